"""Sources on the Hugging Face hub: ``hf:ORG/NAME[:config][@revision]``, streamed through ``datasets``.

Four Fin-R1 sources exist only on the hub (Finance-Instruct-500k, FinCorpus, Quant-Trading-Instruct,
Fin-R1-Data); their parsers read one record at a time, so a hub dataset feeds them the same records
a local file would, split by split, without downloading it first.  ``NAME`` may also be a local
folder in the hub's layout (``data/train-*.parquet``, ``train.json``, ...), which is how the tests
read it without a network.  The revision asked for is recorded in ``report.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from finr1_verl.data.records import RecordError

HUB_PREFIX = "hf:"
_SPEC = re.compile(r"(?P<name>[^:@]+)(?::(?P<config>[^:@]+))?(?:@(?P<revision>[^:@]+))?")


@dataclass(frozen=True)
class HubSpec:
    """A hub dataset: its name (or a local folder in hub layout), config and revision."""

    name: str
    config: str | None = None
    revision: str | None = None

    @classmethod
    def parse(cls, value: str) -> HubSpec:
        match = _SPEC.fullmatch(value.removeprefix(HUB_PREFIX).strip())
        if not value.startswith(HUB_PREFIX) or match is None:
            raise ValueError(f"{value!r}: expected hf:ORG/NAME[:config][@revision]")
        return cls(match["name"], match["config"], match["revision"])

    def __str__(self) -> str:
        config = f":{self.config}" if self.config else ""
        revision = f"@{self.revision}" if self.revision else ""
        return f"{HUB_PREFIX}{self.name}{config}{revision}"

    def report(self) -> dict[str, str | None]:
        import datasets

        return {
            "dataset": self.name,
            "config": self.config,
            "revision": self.revision or "main",
            "datasets_version": datasets.__version__,
        }


def is_hub(value: str) -> bool:
    return str(value).startswith(HUB_PREFIX)


def iter_hub_records(spec: HubSpec) -> Iterator[tuple[str, int, dict]]:
    """``(split, position, record)`` for every record of every split, streamed in split-name order."""
    import datasets

    try:
        streams = datasets.load_dataset(spec.name, spec.config, revision=spec.revision, streaming=True)
    except Exception as err:  # the hub's many failure types all mean: this dataset cannot be read
        raise RecordError(
            str(spec), "<dataset>", "<hub>", f"cannot open: {type(err).__name__}: {err}"
        ) from None
    for split in sorted(streams):
        for position, record in enumerate(streams[split]):
            yield split, position, record
