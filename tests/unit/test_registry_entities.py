"""``TagSchema.dump_names``, the fast path E1/E3 list a repository's tags with, answers what the
schema's own ``dump`` does: same fields, same order, same values — so a field added to the
schema and not to the fast path fails here."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from registry_service.api.registry_entities import TagSchema

tag_names = st.lists(st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,20}\Z"), max_size=8)


@given(names=tag_names, path=st.sampled_from(["acme/web", "acme/web/api", "a/b/c/d"]))
def test_dump_names_equals_the_schema_dump(names: list[str], path: str) -> None:
    schema = TagSchema(registry_host="registry.example:5000", repository_path=path)
    fast = schema.dump_names(names)
    slow = TagSchema(registry_host="registry.example:5000", repository_path=path, many=True)
    # Compared as serialized JSON, so key order counts too.
    assert json.dumps(fast) == json.dumps(slow.dump(names))
