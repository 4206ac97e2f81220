import cv2
import numpy as np
import pytest
from slr_data import FrameReadError, decode_frames, list_frame_files, read_video
from slr_data.frames import natural_sort_key


def _write_frames(folder, count, size=(12, 16), names=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (count, *size, 3), dtype=np.uint8)
    names = names or [f"img{t}.png" for t in range(count)]
    for frame, name in zip(frames, names, strict=False):
        assert cv2.imwrite(str(folder / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return frames


def test_natural_sort_and_rgb_order(tmp_path):
    frames = _write_frames(tmp_path, 12)
    paths = list_frame_files(tmp_path)
    assert [p.name for p in paths] == [f"img{t}.png" for t in range(12)]
    assert sorted(["f10.png", "f2.png", "f1.png"], key=natural_sort_key) == ["f1.png", "f2.png", "f10.png"]
    video = decode_frames(paths)
    assert video.dtype == np.uint8 and video.shape == (12, 12, 16, 3)
    np.testing.assert_array_equal(video, frames)


def test_threaded_and_serial_decoding_agree_and_repeats_are_copied(tmp_path):
    _write_frames(tmp_path, 9)
    paths = list_frame_files(tmp_path)
    order = [paths[i] for i in (0, 3, 3, 8, 1, 1, 1)]
    serial = decode_frames(order, num_threads=1)
    threaded = decode_frames(order, num_threads=4)
    np.testing.assert_array_equal(serial, threaded)
    np.testing.assert_array_equal(serial[1], serial[2])


def test_corrupt_png_error_names_the_file(tmp_path):
    _write_frames(tmp_path, 6)
    bad = tmp_path / "img4.png"
    bad.write_bytes(bad.read_bytes()[:40])
    for threads in (1, 4):
        with pytest.raises(FrameReadError) as info:
            decode_frames(list_frame_files(tmp_path), num_threads=threads)
        assert info.value.path == str(bad) and "corrupt" in str(info.value)
    bad.write_bytes(b"")
    with pytest.raises(FrameReadError, match="img4.png"):
        decode_frames(list_frame_files(tmp_path))


def test_missing_frame_folder_and_size_mismatch(tmp_path):
    with pytest.raises(FrameReadError, match="does not exist"):
        list_frame_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrameReadError, match="no frame images"):
        list_frame_files(tmp_path / "empty")
    _write_frames(tmp_path / "v", 3)
    paths = list_frame_files(tmp_path / "v")
    with pytest.raises(FrameReadError, match="frame file is missing"):
        decode_frames([*paths, tmp_path / "v" / "gone.png"])
    cv2.imwrite(str(tmp_path / "v" / "img3.png"), np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(FrameReadError, match=r"img3.png: frame size 5x5 differs"):
        decode_frames(list_frame_files(tmp_path / "v"))


def test_read_video_folder_jpeg_and_video_file(tmp_path):
    frames = _write_frames(tmp_path / "png", 5)
    np.testing.assert_array_equal(read_video(tmp_path / "png"), frames)
    jpg = tmp_path / "jpg"
    jpg.mkdir()
    solid = np.zeros((16, 16, 3), np.uint8)
    solid[..., 0] = 200  # red in RGB
    for t in range(3):
        cv2.imwrite(str(jpg / f"frame{t}.jpg"), cv2.cvtColor(solid, cv2.COLOR_RGB2BGR))
    video = read_video(jpg)
    assert video.shape == (3, 16, 16, 3) and abs(int(video[0, 8, 8, 0]) - 200) <= 3 and video[0, 8, 8, 2] < 10

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG avi files")
    frame = np.zeros((24, 32, 3), np.uint8)
    frame[..., 2] = 220  # red in BGR
    for _ in range(7):
        writer.write(frame)
    writer.release()
    video = read_video(path)
    assert video.shape == (7, 24, 32, 3) and video.dtype == np.uint8
    assert video[:, 12, 16, 0].min() > 180 and video[:, 12, 16, 2].max() < 40  # RGB order


def test_read_video_errors_name_the_path(tmp_path):
    with pytest.raises(FrameReadError, match="missing.mp4: no such video"):
        read_video(tmp_path / "missing.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 10)
    with pytest.raises(FrameReadError, match="garbage.mp4"):
        read_video(garbage)


def test_grey_alpha_and_16_bit_frames_become_rgb(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    cv2.imwrite(str(tmp_path / "a0.png"), grey)
    bgra = np.zeros((6, 8, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 255  # blue, opaque
    cv2.imwrite(str(tmp_path / "a1.png"), bgra)
    cv2.imwrite(str(tmp_path / "a2.png"), np.full((6, 8, 3), 40000, np.uint16))
    video = read_video(tmp_path)
    assert video.shape == (3, 6, 8, 3) and video.dtype == np.uint8
    np.testing.assert_array_equal(video[0, ..., 1], grey)
    assert tuple(video[1, 0, 0]) == (0, 0, 200)
    assert tuple(video[2, 0, 0]) == (40000 >> 8,) * 3


def test_frame_read_error_survives_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(FrameReadError("corrupt", "/x/y.png")))
    assert isinstance(error, FrameReadError) and error.path == "/x/y.png" and "corrupt" in str(error)


class _MissingFrames:
    """A dataset whose second item has a missing frame folder (module level: picklable for workers)."""

    def __init__(self, folder):
        self.folder = folder

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return list_frame_files(self.folder / f"video{index}")


def test_frame_read_error_from_a_dataloader_worker_stays_a_frame_read_error(tmp_path):
    import torch.utils.data

    (tmp_path / "video0").mkdir()
    (tmp_path / "video0" / "0.png").write_bytes(b"")
    loader = torch.utils.data.DataLoader(_MissingFrames(tmp_path), batch_size=None, num_workers=1)
    with pytest.raises(FrameReadError) as info:
        list(loader)
    missing = str(tmp_path / "video1")
    assert str(info.value) == f"{missing}: frame folder does not exist"
    assert info.value.path == missing
    assert "Original Traceback" in info.value.worker_traceback


def test_frame_read_error_takes_the_common_shape():
    error = FrameReadError("cannot read frame file", "/x/y.png")
    assert str(error) == "/x/y.png: cannot read frame file" and error.path == "/x/y.png"
    assert str(FrameReadError("no path known")) == "no path known" and FrameReadError("x").path is None
