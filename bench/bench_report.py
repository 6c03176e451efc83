"""A run's results and the table they are printed as; no measuring happens here.

Ratios are oriented so that > 1.0 means registry-service is better: registry-service ÷
distribution for rates (MB/s, req/s), distribution ÷ registry-service for times, latencies and
memory. A metric's target is met when its ratio is ≥ 1.0 — except a metric with an absolute
``limit`` (peak RSS), whose target is registry-service's value staying under that limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUBJECT = "registry-service"
BASELINE = "distribution"
LABEL_WIDTH = 46


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    limit: float | None = None  # an absolute ceiling for registry-service instead of the ratio

    def ratio(self, subject: float, baseline: float) -> float | None:
        numerator, denominator = (
            (subject, baseline) if self.higher_is_better else (baseline, subject)
        )
        return numerator / denominator if denominator > 0 else None

    def met(self, subject: float | None, baseline: float | None) -> bool | None:
        """Whether the target is met; None when the values needed are missing."""
        if self.limit is not None:
            return None if subject is None else subject < self.limit
        if subject is None or baseline is None:
            return None
        ratio = self.ratio(subject, baseline)
        return None if ratio is None else ratio >= 1.0


@dataclass(frozen=True)
class Failure:
    target: str
    step: str
    message: str


@dataclass
class Results:
    values: dict[tuple[str, str], float] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log_tails: dict[str, str] = field(default_factory=dict)  # the latest per target

    def record(self, target: str, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.values[target, key] = value

    def fail(self, target: str, step: str, message: str, log_tail: str = "") -> None:
        self.failures.append(Failure(target, step, message))
        if log_tail:
            self.log_tails[target] = log_tail

    def note(self, line: str) -> None:
        self.notes.append(line)

    def value(self, target: str, key: str) -> float | None:
        return self.values.get((target, key))


def print_report(results: Results, metrics: list[Metric]) -> None:
    print()
    print(_row("metric", SUBJECT, BASELINE, "ratio", "target"))
    print("-" * (LABEL_WIDTH + 56))
    for metric in metrics:
        subject, baseline = results.value(SUBJECT, metric.key), results.value(BASELINE, metric.key)
        ratio = None if subject is None or baseline is None else metric.ratio(subject, baseline)
        print(
            _row(
                metric.label,
                _number(subject),
                _number(baseline),
                _number(ratio),
                _verdict(metric, metric.met(subject, baseline)),
            )
        )
    print()
    for line in _summary(results, metrics):
        print(line)
    for note in results.notes:
        print(note)
    _print_failures(results)


def _summary(results: Results, metrics: list[Metric]) -> list[str]:
    verdicts = {
        metric: metric.met(results.value(SUBJECT, metric.key), results.value(BASELINE, metric.key))
        for metric in metrics
    }
    by_ratio = [metric for metric in metrics if metric.limit is None]
    met = [metric for metric in by_ratio if verdicts[metric]]
    missed = [metric.label for metric in by_ratio if verdicts[metric] is False]
    unmeasured = [metric.label for metric in by_ratio if verdicts[metric] is None]
    lines = [f"Target ratio >= 1.0: met for {len(met)} of {len(by_ratio)} metrics."]
    if missed:
        lines.append("  missed: " + "; ".join(missed))
    if len(unmeasured) == len(by_ratio):
        lines.append("  (no metric was measured on both targets)")
    elif unmeasured:
        lines.append("  not measured on both: " + "; ".join(unmeasured))
    for metric in metrics:
        if metric.limit is not None:
            value = _number(results.value(SUBJECT, metric.key))
            verdict = {True: "met", False: "MISSED", None: "not measured"}[verdicts[metric]]
            lines.append(f"Target {metric.label} < {metric.limit:g}: {verdict} ({value}).")
    everything = all(verdicts.values()) and not results.failures
    lines.append(f"All targets met: {'yes' if everything else 'no'}.")
    return lines


def _print_failures(results: Results) -> None:
    if not results.failures:
        return
    print("\nFailures:")
    for failure in results.failures:
        print(f"- {failure.target} / {failure.step}: {failure.message}")
    for target, log_tail in results.log_tails.items():
        print(f"\nLast lines of {target}'s log after its last failure:")
        print("\n".join(f"    {line}" for line in log_tail.splitlines()))


def _verdict(metric: Metric, met: bool | None) -> str:
    word = {True: "met", False: "MISSED", None: "-"}[met]
    return word if metric.limit is None else f"{word} (< {metric.limit:g})"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def _row(label: str, subject: str, baseline: str, ratio: str, target: str) -> str:
    return f"{label:<{LABEL_WIDTH}} {subject:>16} {baseline:>14} {ratio:>8}  {target}"
