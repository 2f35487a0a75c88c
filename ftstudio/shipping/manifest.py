"""What an OpenAI-compatible server serves, as the JSON it is started with: the base model every served name shares,
and each name's adapter and template. Worked out from the store by the process that owns it (served.py); the server
process reads only this, never the database, which the app holds as its only writer."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ServedModel:
    """One name the server answers to: its adapter (none for the base model) and the template its prompts use."""

    name: str
    template: dict
    adapter_dir: str | None = None
    run_id: int | None = None


@dataclass
class ServeManifest:
    """The base model every served name shares, and the names."""

    base_model_path: str
    models: list[ServedModel] = field(default_factory=list)
    run_id: int | None = None  # the run the server was started for

    @property
    def names(self) -> list[str]:
        return [model.name for model in self.models]

    @property
    def adapters(self) -> dict[str, str]:
        return {model.name: model.adapter_dir for model in self.models if model.adapter_dir}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ServeManifest":
        return cls(data["base_model_path"], [ServedModel(**model) for model in data.get("models", [])],
                   data.get("run_id"))

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def read(cls, path: Path) -> "ServeManifest":
        return cls.from_dict(json.loads(Path(path).read_text()))
