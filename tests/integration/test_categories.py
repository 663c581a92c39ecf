"""Photo (ZP, DA/T 54) and audio-video (LY, DA/T 63) records on the real stack (issue 15): each is
numbered in its own series beside the 文书 records, keeps its description, and carries what its
files say of themselves (EXIF, duration, codecs) as the register stage read them; a photo whose
file is no image does not pass the DA/T 70 check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from avro_schemas.codec import Codec
from connectors.readback import catalog, watch_outcomes
from connectors.sdk import FileToSubmit, Submitter
from recordflow.localstack.workers import WorkerProcess
from recordflow.settings import Settings
from tests import media
from tests.examples import notice_metadata, photo_metadata
from tests.integration.cli import run_cli

TIMEOUT_S = 120.0


def test_photos_recordings_and_documents_are_numbered_in_their_own_series(
    pipeline_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    taken = dt.datetime(2026, 5, 6, 20, 15, 3)
    photo = media.photo_jpeg(tmp_path / "深南大道夜景.jpg", taken=taken, make="Canon",
                             model="EOS R5", dpi=300)  # fmt: skip
    video = media.video_mp4(tmp_path / "运动会.mp4", seconds=1.0, size=(320, 240), fps=25)
    audio = media.audio_wav(tmp_path / "口述历史.wav", seconds=2.0, rate=16000, channels=1)
    pdf = tmp_path / "not-a-photo.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    recording = photo_metadata(
        "BGT-LY-0001", category="LY", document_type="录像", title="局机关职工趣味运动会",
        keywords=[], media={"creator": "市档案馆声像科", "captured_at": "2026-05-01",
                            "place": "市体育中心", "persons": []},
    )  # fmt: skip
    interview = photo_metadata(
        "BGT-LY-0002", category="LY", document_type="录音", title="老城区居民口述历史（一）",
        keywords=["城市记忆"], media={"creator": "市档案馆征集科", "captured_at": "2026-04",
                                      "place": None, "persons": ["陈阿婆"]},
    )  # fmt: skip
    submissions = {
        "BGT-ZP-0001": ([photo], photo_metadata("BGT-ZP-0001")),
        "BGT-ZP-0002": ([photo], photo_metadata("BGT-ZP-0002", title="深南大道夜景（二）")),
        "BGT-LY-0001": ([video], recording),
        "BGT-LY-0002": ([audio], interview),
        "BGT-WS-0001": ([pdf], notice_metadata("BGT-WS-0001")),
        "BGT-ZP-0003": ([pdf], photo_metadata("BGT-ZP-0003", title="不是照片的照片")),
    }
    submitter = Submitter(pipeline_settings)
    ids = {
        document_id: submitter.submit("bgt", [FileToSubmit(p) for p in paths], metadata).event_id
        for document_id, (paths, metadata) in submissions.items()
    }
    submitter.close()
    codec = Codec.from_url(pipeline_settings.schema_registry_url)
    outcomes = watch_outcomes(pipeline_settings, codec, set(ids.values()), timeout_s=TIMEOUT_S)
    codes = {document: outcomes[event_id].reference_code for document, event_id in ids.items()}
    # 城市记忆: permanent. The two photos are numbered in the order they reach the register stage.
    assert {codes["BGT-ZP-0001"], codes["BGT-ZP-0002"]} == {
        "Z101-ZP·2026-Y-BGS-0001", "Z101-ZP·2026-Y-BGS-0002",
    }  # fmt: skip
    assert codes["BGT-LY-0001"] == "Z101-LY·2026-D30-BGS-0001"  # an ordinary activity
    assert codes["BGT-LY-0002"] == "Z101-LY·2026-Y-BGS-0001"  # 城市记忆: its own period's series
    assert codes["BGT-WS-0001"] == "Z101-WS·2026-D10-BGS-0001"
    refused = outcomes[ids["BGT-ZP-0003"]]
    assert (refused.status, refused.reason) == ("rejected", "four-property-check-failed")
    assert "格式与门类不符" in str(refused.detail)

    records = catalog(pipeline_settings, codec)
    photo_record = records[str(codes["BGT-ZP-0001"])]
    assert (photo_record["category"], photo_record["retention_rule_id"]) == (
        "ZP", "city-default@2026.3/Y-media-important",
    )  # fmt: skip
    assert photo_record["media"]["creator"] == "李摄影"
    (photo_file,) = photo_record["media_files"]
    assert (photo_file["kind"], photo_file["width"], photo_file["height"]) == ("image", 640, 480)
    assert (photo_file["device"], photo_file["captured_at"], photo_file["resolution_dpi"]) == (
        "Canon EOS R5", "2026-05-06T20:15:03", 300,
    )  # fmt: skip
    (video_file,) = records["Z101-LY·2026-D30-BGS-0001"]["media_files"]
    assert video_file["kind"] == "video"
    assert (video_file["width"], video_file["height"], video_file["frame_rate"]) == (320, 240, 25)
    assert 960 <= video_file["duration_ms"] <= 1100
    assert (video_file["video_codec"], video_file["audio_codec"]) == ("h264", "aac")
    (audio_file,) = records["Z101-LY·2026-Y-BGS-0001"]["media_files"]
    assert (audio_file["kind"], audio_file["audio_codec"], audio_file["duration_ms"]) == (
        "audio", "pcm_s16le", 2000,
    )  # fmt: skip
    assert (audio_file["sample_rate_hz"], audio_file["channels"]) == (16000, 1)
    assert records["Z101-WS·2026-D10-BGS-0001"]["media_files"] == []

    shown = run_cli(pipeline_settings, "records", "show", str(codes["BGT-ZP-0001"]))
    assert shown.returncode == 0, shown.stderr
    for line in ("门类 category", "ZP", "摄影/摄录者 creator", "李摄影", "640×480  300 dpi",
                 "Canon EOS R5", "2026-05-06T20:15:03"):  # fmt: skip
        assert line in shown.stdout, shown.stdout
