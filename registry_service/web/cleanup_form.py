"""The cleanup form's parameters: read from a posted form and checked as the API's bulk
delete checks them (a regex must be valid RE2, ``older_than`` a duration, ``keep_n`` a whole
number ≥ 0, and a delete regex is required), each problem named by its field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.cleanup import Anchoring, RegexInvalid, compile_tag_regex
from jobs.durations import DurationInvalid, parse_duration
from registry_service.services.job_data import CleanupParams
from registry_service.services.policies import CleanupPolicy


@dataclass(frozen=True)
class CleanupForm:
    """What the form shows (as typed) and, when valid, the request it makes."""

    values: Mapping[str, str]
    problems: Mapping[str, str] = field(default_factory=dict)

    def params(self, anchoring: Anchoring) -> CleanupParams:
        """The bulk delete's parameters, typed as the API, the preview and the job share them."""
        assert not self.problems
        keep_n = self.values.get("keep_n", "")
        return CleanupParams(
            name_regex_delete=self.values.get("name_regex_delete") or None,
            name_regex_keep=self.values.get("name_regex_keep") or None,
            keep_n=int(keep_n) if keep_n else None,
            older_than=self.values.get("older_than") or None,
            anchoring=anchoring,
        )


FIELDS = ("name_regex_delete", "name_regex_keep", "keep_n", "older_than")


def from_policy(policy: CleanupPolicy) -> CleanupForm:
    """The project's policy as a starting point for a one-off cleanup."""
    return CleanupForm({
        "name_regex_delete": policy.name_regex or "",
        "name_regex_keep": policy.name_regex_keep or "",
        "keep_n": "" if policy.keep_n is None else str(policy.keep_n),
        "older_than": policy.older_than or "",
    })


def parse_cleanup_form(form: Mapping[str, str]) -> CleanupForm:
    values = {name: form.get(name, "").strip() for name in FIELDS}
    problems: dict[str, str] = {}
    if not values["name_regex_delete"]:
        problems["name_regex_delete"] = "Give a regular expression for the tags to delete."
    for name in ("name_regex_delete", "name_regex_keep"):
        if values[name]:
            try:
                compile_tag_regex(values[name], Anchoring.GITLAB)
            except RegexInvalid as exc:
                problems[name] = f"Not a valid RE2 regular expression: {exc.reason}"
    if values["keep_n"] and (not values["keep_n"].isdigit() or len(values["keep_n"]) > 9):
        problems["keep_n"] = "A whole number, 0 or more."
    if values["older_than"]:
        try:
            parse_duration(values["older_than"])
        except DurationInvalid:
            problems["older_than"] = "A duration such as 7d, 2 weeks or 1 month."
    return CleanupForm(values, problems)
