"""What the importer submits for a linked batch (connectors/importer.py, linked_items): a scan is a
digitized copy of its original (纸质, 照片, 底片), a camera's photo is electronic."""

from __future__ import annotations

from pathlib import Path

from archival.digitization import link_batch, load_link_config
from archival.metadata import load_metadata_rules
from connectors.importer import linked_items
from recordflow.settings import Settings
from tests import digitization, photos

RULES = load_metadata_rules(Settings().metadata_rules_file)


def test_each_item_says_what_it_is_on(tmp_path: Path) -> None:
    config = load_link_config()
    batch = photos.build(tmp_path / "photos")
    report = link_batch(batch.csv, batch.photos, config, category="ZP", rules=RULES)
    carriers = {item.key: item.metadata["carrier"] for item in linked_items(report, "bgt", RULES)}
    assert carriers == {
        photos.NEGATIVE: {"medium": "digitized", "original_medium": "底片"},
        photos.PRINT: {"medium": "digitized", "original_medium": "照片"},
        photos.CAMERA: {"medium": "electronic"},
    }
    paper = digitization.build(tmp_path / "paper")
    (first, *_) = linked_items(link_batch(paper.csv, paper.images, config), "zjj", RULES)
    assert first.metadata["carrier"] == {"medium": "digitized", "original_medium": "纸质"}
    assert first.metadata["document_type"] == "通知"  # from its title: …的通知
    assert (first.key, first.pages) == (digitization.code(1), 3)
