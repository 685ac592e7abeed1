"""docs/settings.md is generated from the settings classes and must stay in step with them."""

from __future__ import annotations

from pathlib import Path

from cli import settings_doc

PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
REGENERATE = "regenerate it: python -m cli.settings_doc > docs/settings.md"


def test_every_settings_class_that_declares_a_field_has_a_section_on_the_page():
    covered = {cls for cls, _, _ in settings_doc.SECTIONS}
    missing = [
        cls.__name__ for cls in settings_doc.settings_classes() if settings_doc.own_fields(cls) and cls not in covered
    ]
    assert not missing, f"settings classes without a section in cli/settings_doc.py: {missing}"


def test_every_setting_is_on_the_page_with_a_description():
    page = PAGE.read_text()
    for cls in settings_doc.settings_classes():
        for name, info in cls.model_fields.items():
            assert f"`{settings_doc.env_name(name)}`" in page, f"{settings_doc.env_name(name)} is missing; {REGENERATE}"
            assert info.description, f"{cls.__name__}.{name} has no Field(description=...)"


def test_the_committed_page_is_what_the_generator_prints():
    assert PAGE.read_text() == settings_doc.render(), f"docs/settings.md is stale; {REGENERATE}"


def test_a_new_field_would_show_on_the_page():
    from pydantic import Field

    from streams.settings import KafkaSettings

    class Probe(KafkaSettings):
        probe_knob: int = Field(default=7, description="A knob")

    assert "| `HERALD_PROBE_KNOB` | `7` | A knob |" in settings_doc.section(Probe, "Probe", "a test")
