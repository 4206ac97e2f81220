"""Frames and videos whose headers declare more than the limits are refused before decoding."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from slr_data import (
    DataLimits,
    FrameReadError,
    check_image_file,
    decode_frames,
    list_frame_files,
    read_image_header,
    read_video,
    using_limits,
)
from slr_data.dataset import check_frames


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def write_black_png(path, width, height):
    """A valid all-black RGB PNG, compressed row by row (never the whole image in memory)."""
    compressor = zlib.compressobj(1)
    row = bytes(1 + 3 * width)  # filter byte 0 + black pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )
    return path


def _jpeg_header(width, height):
    """SOI, an APP0 segment, then a baseline SOF0 of ``width x height`` (no image data)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
def test_headers_of_every_supported_format_match_the_image(tmp_path, ext):
    image = np.random.default_rng(0).integers(0, 255, (23, 37, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(ext, image[..., 0] if ext == ".pgm" else image)
    assert ok
    path = tmp_path / f"frame{ext}"
    path.write_bytes(encoded.tobytes())
    header = check_image_file(path)
    assert (header.width, header.height) == (37, 23)
    assert decode_frames([path]).shape == (1, 23, 37, 3)


def test_a_large_png_is_refused_from_its_header_in_bounded_memory(tmp_path, slr_data_bounded_probe):
    big = write_black_png(tmp_path / "big.png", 6000, 6000)  # 108 MB decoded, ~100 kB on disk
    assert big.stat().st_size < 1 << 20
    folder = tmp_path / "video"
    folder.mkdir()
    for t in range(3):
        write_black_png(folder / f"f{t}.png", 6000, 6000)
    results = slr_data_bounded_probe(
        [
            ("slr_data.frames:read_video", [str(big)], {}),
            ("slr_data.frames:read_video", [str(folder)], {"num_threads": 1}),
            ("slr_data.image_header:check_image_file", [str(big)], {}),
        ]
    )
    for result, name in zip(results, [big, folder / "f0.png", big], strict=True):
        assert result["type"] == "FrameReadError", result
        assert result["message"].startswith(
            f"{name}: PNG image of 6000x6000 pixels is larger than the maximum 4096x4096"
        )


def test_frame_size_limit_is_overridable(tmp_path):
    path = write_black_png(tmp_path / "wide.png", 5000, 8)
    with pytest.raises(FrameReadError, match="5000x8 pixels is larger than the maximum 4096x4096"):
        decode_frames([path])
    assert decode_frames([path], limits=DataLimits(max_frame_width=5000)).shape == (1, 8, 5000, 3)
    with using_limits(max_frame_height=4), pytest.raises(FrameReadError, match="maximum 4096x4"):
        read_video(path)


def test_jpeg_and_unknown_headers(tmp_path):
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(_jpeg_header(20000, 30000))
    with pytest.raises(FrameReadError, match="huge.jpg: JPEG image of 20000x30000 pixels"):
        decode_frames([huge])
    assert read_image_header(io.BytesIO(_jpeg_header(640, 480))).height == 480
    gif = tmp_path / "anim.png"  # the suffix does not matter: the bytes are a GIF
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 20000, 20000) + b"\x00" * 20)
    with pytest.raises(FrameReadError, match="anim.png: unsupported or corrupt image"):
        decode_frames([gif])
    no_sof = tmp_path / "nosof.jpg"
    no_sof.write_bytes(b"\xff\xd8\xff\xda\x00\x02")
    with pytest.raises(FrameReadError, match="nosof.jpg: corrupt image header"):
        check_image_file(no_sof)


def test_oversized_or_special_frame_files_are_not_read(tmp_path):
    padded = tmp_path / "padded.png"
    write_black_png(padded, 4, 4)
    with open(padded, "ab") as handle:
        handle.truncate(DataLimits().frame_file_max_bytes() + 1)  # sparse: no disk used
    with pytest.raises(FrameReadError, match="larger than any image"):
        decode_frames([padded])
    with pytest.raises(FrameReadError, match="not a regular file"):
        decode_frames(["/dev/zero"])
    with pytest.raises(FrameReadError, match="is a folder"):
        check_image_file(tmp_path)


def test_frame_count_limits(tmp_path):
    folder = tmp_path / "long"
    folder.mkdir()
    for t in range(6):
        write_black_png(folder / f"{t}.png", 4, 4)
    with using_limits(max_video_frames=5):
        with pytest.raises(FrameReadError, match="more than 5 frame images"):
            list_frame_files(folder)
        with pytest.raises(FrameReadError, match="longer than the maximum 5"):
            decode_frames(sorted(folder.iterdir()))
    assert len(list_frame_files(folder, limits=DataLimits(max_video_frames=6))) == 6
    with pytest.raises(FrameReadError, match="need 288 bytes decoded, more than the maximum 200"):
        decode_frames(sorted(folder.iterdir()), limits=DataLimits(max_video_bytes=200))


def test_check_frames_can_read_headers(tmp_path):
    from slr_data import VideoRecord

    folder = tmp_path / "v"
    folder.mkdir()
    write_black_png(folder / "0.png", 4, 4)
    write_black_png(folder / "1.png", 5000, 4)
    record = VideoRecord("v", "dev", "S1", ("A",), 2, folder)
    assert check_frames([record]) == []
    (bad,) = check_frames([record], headers=True)
    assert "1.png: PNG image of 5000x4 pixels" in bad[1]


def _write_video(path, frames, size=(32, 24)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write MJPG avi files")
    for t in range(frames):
        writer.write(np.full((size[1], size[0], 3), 10 * t, dtype=np.uint8))
    writer.release()
    return path


def test_video_files_are_checked_from_their_container(tmp_path):
    video = _write_video(tmp_path / "clip.avi", 5)
    assert read_video(video).shape == (5, 24, 32, 3)
    with pytest.raises(
        FrameReadError, match="clip.avi: video file declares 5 frames, more than the maximum 4"
    ):
        read_video(video, limits=DataLimits(max_video_frames=4))
    with pytest.raises(
        FrameReadError, match="clip.avi: video frames of 32x24 pixels is larger than the maximum 16x"
    ):
        read_video(video, limits=DataLimits(max_frame_width=16))
    with pytest.raises(FrameReadError, match="need 11520 bytes decoded"):
        read_video(video, limits=DataLimits(max_video_bytes=10000))
