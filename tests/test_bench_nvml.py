"""NVML probe: canned H100 values give the expected record; every failure NVML can produce
(library missing, driver not loaded, no permission, a field not supported, an old binding
without a function) is simulated with a fake pynvml and handled without raising."""

import json
import sys
import uuid as uuidlib
from collections import Counter
from types import SimpleNamespace

import pynvml as real
import pytest
from typer.testing import CliRunner

from planner.bench.nvml import (
    GPUInfo,
    NVMLProbe,
    decode_throttle,
    device_reader,
    normalize_uuid,
    probe,
    profile_for_name,
)
from planner.bench.sampler import Sampler
from planner.cli import app

H100 = {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-5a3e0c1d-7f2b-4c11-9e8a-0123456789ab",
        "total": 85520809984, "cc": (9, 0), "sm": 1980, "sm_max": 1980, "mem": 2619,
        "mem_max": 2619, "power_mw": 71234, "limit_mw": 700000, "temp": 33,
        "bus": "00000000:18:00.0", "throttle": 0x1 | 0x4}
A100 = {**H100, "name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd",
        "total": 42505273344, "cc": (8, 0), "sm": 1410, "sm_max": 1410, "limit_mw": 400000}


class FakeNVML:
    """pynvml's API over canned devices.  ``fail`` maps a function name to an NVML error code
    (raised as pynvml raises it) or to an exception; ``missing`` names functions an old
    nvidia-ml-py lacks."""

    NVMLError = real.NVMLError
    NVML_CLOCK_SM = real.NVML_CLOCK_SM
    NVML_CLOCK_MEM = real.NVML_CLOCK_MEM
    NVML_TEMPERATURE_GPU = real.NVML_TEMPERATURE_GPU
    NVML_ERROR_NOT_SUPPORTED = real.NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NO_PERMISSION = real.NVML_ERROR_NO_PERMISSION
    NVML_ERROR_DRIVER_NOT_LOADED = real.NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = real.NVML_ERROR_LIBRARY_NOT_FOUND

    def __init__(self, devices=(H100,), fail=None, missing=(), driver="550.54.15",
                 cuda=12040):
        self.devices = [dict(d) for d in devices]
        self.fail = dict(fail or {})
        self.missing = set(missing)
        self.driver, self.cuda = driver, cuda
        self.calls = Counter()

    def __getattribute__(self, name):
        if name.startswith("nvml") and name in object.__getattribute__(self, "missing"):
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    def _call(self, fn):
        self.calls[fn] += 1
        err = self.fail.get(fn)
        if isinstance(err, int):
            raise real.NVMLError(err)
        if err is not None:
            raise err

    def nvmlInit(self):
        self._call("nvmlInit")

    def nvmlShutdown(self):
        self._call("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self):
        self._call("nvmlSystemGetDriverVersion")
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self):
        self._call("nvmlSystemGetCudaDriverVersion")
        return self.cuda

    def nvmlDeviceGetCount(self):
        self._call("nvmlDeviceGetCount")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, i):
        self._call("nvmlDeviceGetHandleByIndex")
        return self.devices[i]

    def nvmlDeviceGetName(self, h):
        self._call("nvmlDeviceGetName")
        return h["name"]

    def nvmlDeviceGetUUID(self, h):
        self._call("nvmlDeviceGetUUID")
        return h["uuid"]

    def nvmlDeviceGetMemoryInfo(self, h):
        self._call("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(total=h["total"], free=h["total"] // 2, used=h["total"] // 2)

    def nvmlDeviceGetCudaComputeCapability(self, h):
        self._call("nvmlDeviceGetCudaComputeCapability")
        return h["cc"]

    def nvmlDeviceGetClockInfo(self, h, kind):
        self._call("nvmlDeviceGetClockInfo")
        return h["sm"] if kind == real.NVML_CLOCK_SM else h["mem"]

    def nvmlDeviceGetMaxClockInfo(self, h, kind):
        self._call("nvmlDeviceGetMaxClockInfo")
        return h["sm_max"] if kind == real.NVML_CLOCK_SM else h["mem_max"]

    def nvmlDeviceGetPowerUsage(self, h):
        self._call("nvmlDeviceGetPowerUsage")
        return h["power_mw"]

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        self._call("nvmlDeviceGetEnforcedPowerLimit")
        return h["limit_mw"]

    def nvmlDeviceGetTemperature(self, h, sensor):
        self._call("nvmlDeviceGetTemperature")
        assert sensor == real.NVML_TEMPERATURE_GPU
        return h["temp"]

    def nvmlDeviceGetPciInfo(self, h):
        self._call("nvmlDeviceGetPciInfo")
        return SimpleNamespace(busId=h["bus"].encode())  # old bindings return bytes

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        self._call("nvmlDeviceGetCurrentClocksEventReasons")
        return h["throttle"]


# ---- canned H100 -----------------------------------------------------------------------------

def test_canned_h100_gives_the_expected_probe():
    fake = FakeNVML()
    p = probe(fake)
    assert p.available and p.reason == "" and p.warnings == ()
    assert p.driver_version == "550.54.15" and p.cuda_driver_version == "12.4"
    assert len(p.devices) == 1
    d = p.devices[0]
    assert d == GPUInfo(index=0, name="NVIDIA H100 80GB HBM3", uuid=H100["uuid"],
                        memory_total_bytes=85520809984, compute_capability=(9, 0),
                        sm_clock_mhz=1980, max_sm_clock_mhz=1980, mem_clock_mhz=2619,
                        max_mem_clock_mhz=2619, power_watts=71.234, power_limit_watts=700.0,
                        temperature_c=33, pci_bus_id="00000000:18:00.0", profile="h100-sxm",
                        unavailable={})
    assert d.as_dict()["compute_capability"] == "9.0"
    # init and shutdown paired exactly once
    assert fake.calls["nvmlInit"] == 1 and fake.calls["nvmlShutdown"] == 1


def test_bytes_from_old_bindings_are_decoded():
    dev = {**H100, "name": b"NVIDIA H100 PCIe", "uuid": H100["uuid"].encode()}
    p = probe(FakeNVML(devices=[dev], driver=b"535.104.05"))
    d = p.devices[0]
    assert (d.name, d.uuid, d.profile) == ("NVIDIA H100 PCIe", H100["uuid"], "h100-pcie")
    assert p.driver_version == "535.104.05"


# ---- failures ---------------------------------------------------------------------------------

def test_library_missing_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    p = probe()
    assert not p.available and p.devices == ()
    assert p.reason == "nvidia-ml-py is not installed (pip install nvidia-ml-py)"


@pytest.mark.parametrize("code, reason", [
    (real.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML library not found (no NVIDIA driver installed)"),
    (real.NVML_ERROR_DRIVER_NOT_LOADED, "NVIDIA driver not loaded"),
    (real.NVML_ERROR_NO_PERMISSION, "no permission to query the GPU through NVML"),
    (real.NVML_ERROR_UNKNOWN, "NVML error: Unknown Error"),
])
def test_init_failures_become_one_line_reasons(code, reason):
    fake = FakeNVML(fail={"nvmlInit": code})
    p = probe(fake)
    assert (p.available, p.reason, p.devices) == (False, reason, ())
    assert "\n" not in p.reason
    assert fake.calls["nvmlShutdown"] == 0  # never shut down what did not start


def test_init_raising_something_else_is_caught():
    p = probe(FakeNVML(fail={"nvmlInit": OSError("libnvidia-ml.so.1: cannot open")}))
    assert not p.available and "cannot open" in p.reason


def test_field_not_supported_leaves_only_that_field_empty():
    fake = FakeNVML(fail={"nvmlDeviceGetPowerUsage": real.NVML_ERROR_NOT_SUPPORTED,
                          "nvmlDeviceGetTemperature": real.NVML_ERROR_NO_PERMISSION})
    d = probe(fake).devices[0]
    assert d.power_watts is None and d.temperature_c is None
    assert d.unavailable == {"power_watts": "not supported",
                             "temperature_c": "no permission to query the GPU through NVML"}
    assert d.power_limit_watts == 700.0 and d.sm_clock_mhz == 1980 and d.profile == "h100-sxm"


def test_function_missing_from_an_old_binding():
    d = probe(FakeNVML(missing={"nvmlDeviceGetCudaComputeCapability"})).devices[0]
    assert d.compute_capability is None
    assert "missing" in d.unavailable["compute_capability"]
    assert d.name == H100["name"]


def test_no_permission_on_a_device_handle():
    fake = FakeNVML(devices=[H100, A100],
                    fail={"nvmlDeviceGetHandleByIndex": real.NVML_ERROR_NO_PERMISSION})
    p = probe(fake)
    assert not p.available and p.devices == ()
    assert p.warnings == ("device 0: no permission to query the GPU through NVML",
                          "device 1: no permission to query the GPU through NVML")
    assert fake.calls["nvmlShutdown"] == 1


def test_zero_devices_and_uncountable_devices():
    p = probe(FakeNVML(devices=[]))
    assert (p.available, p.reason) == (False, "NVML found no NVIDIA GPU")
    assert p.driver_version == "550.54.15"
    p = probe(FakeNVML(fail={"nvmlDeviceGetCount": real.NVML_ERROR_DRIVER_NOT_LOADED}))
    assert not p.available and p.reason.endswith("NVIDIA driver not loaded")


# ---- names and UUIDs -------------------------------------------------------------------------

@pytest.mark.parametrize("name, memory, expected", [
    ("NVIDIA H100 80GB HBM3", None, "h100-sxm"),
    ("NVIDIA H100 PCIe", None, "h100-pcie"),
    ("NVIDIA H200", None, "h200-sxm"),
    ("NVIDIA A100-SXM4-80GB", None, "a100-80gb-sxm"),
    ("NVIDIA A100-SXM4-40GB", None, "a100-40gb-sxm"),
    ("NVIDIA A100 80GB PCIe", None, "a100-80gb-pcie"),
    ("NVIDIA L40S", None, "l40s"),
    ("NVIDIA B200", None, "b200"),
    ("NVIDIA A100-SXM4", 85e9, "a100-80gb-sxm"),  # name without size: memory decides
    ("NVIDIA A100-SXM4", 42e9, "a100-40gb-sxm"),
    ("NVIDIA H100 NVL", None, None),  # no shipped profile: never guess
    ("NVIDIA L40", None, None),
    ("NVIDIA A100-PCIE-40GB", None, None),
    ("Tesla T4", None, None),
])
def test_profile_for_name(name, memory, expected):
    assert profile_for_name(name, memory) == expected


def test_uuids_compare_across_nvml_torch_and_uuid_objects():
    u = "5a3e0c1d-7f2b-4c11-9e8a-0123456789ab"
    assert normalize_uuid("GPU-" + u.upper()) == normalize_uuid(u) == \
        normalize_uuid(uuidlib.UUID(u)) == "5a3e0c1d7f2b4c119e8a0123456789ab"
    p = probe(FakeNVML(devices=[A100, H100]))
    assert p.by_uuid(u).name == "NVIDIA H100 80GB HBM3" and p.by_uuid(u).index == 1
    assert p.by_uuid("GPU-ffffffff-0000-0000-0000-000000000000") is None


def test_cuda_device_matched_to_nvml_by_uuid_not_index():
    """CUDA_VISIBLE_DEVICES=1: torch's device 0 is NVML's device 1."""
    from planner.bench.cuda import identify, supported_precisions

    props = SimpleNamespace(uuid=uuidlib.UUID(H100["uuid"][4:]), name="NVIDIA H100 80GB HBM3",
                            total_memory=H100["total"], major=9, minor=0)
    torch = SimpleNamespace(cuda=SimpleNamespace(get_device_properties=lambda i: props),
                            float8_e4m3fn=object(), _scaled_mm=object())
    name, profile, info = identify(torch, 0, probe(FakeNVML(devices=[A100, H100])))
    assert (name, profile, info.index, info.power_limit_watts) == (
        "NVIDIA H100 80GB HBM3", "h100-sxm", 1, 700.0)
    # without NVML the torch name decides
    name, profile, info = identify(torch, 0, NVMLProbe(False, "NVIDIA driver not loaded"))
    assert (name, profile, info) == ("NVIDIA H100 80GB HBM3", "h100-sxm", None)
    assert supported_precisions(torch, (9, 0)) == ["bf16", "fp16", "fp8", "tf32"]
    assert supported_precisions(torch, (8, 0)) == ["bf16", "fp16", "tf32"]
    assert supported_precisions(torch, (7, 0)) == ["fp16"]
    assert "fp8" not in supported_precisions(SimpleNamespace(), (9, 0))  # torch without fp8


# ---- live readings and the sampler -----------------------------------------------------------

def test_device_reader_reads_clocks_power_and_slowdown_reasons():
    fake = FakeNVML(devices=[A100, H100])
    with device_reader(H100["uuid"][4:], fake) as read:
        assert read is not None
        r = read()
    assert r == {"sm_clock_mhz": 1980.0, "mem_clock_mhz": 2619.0, "power_watts": 71.234,
                 "temperature_c": 33.0, "throttle": ["software power cap"]}
    assert fake.calls["nvmlInit"] == fake.calls["nvmlShutdown"] == 1


def test_device_reader_without_nvml_or_device_yields_none():
    with device_reader(H100["uuid"], FakeNVML(fail={"nvmlInit": 9})) as read:
        assert read is None
    fake = FakeNVML(devices=[A100])
    with device_reader(H100["uuid"], fake) as read:
        assert read is None
    assert fake.calls["nvmlShutdown"] == 1


def test_decode_throttle_ignores_idle():
    assert decode_throttle(0x1) == []
    assert decode_throttle(0x4 | 0x40) == ["software power cap", "hardware thermal slowdown"]


def test_sampler_summarises_and_survives_failing_reads():
    fake = FakeNVML()
    with device_reader(H100["uuid"], fake) as read:
        calls = {"n": 0}

        def flaky():
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("transient")
            return read()

        with Sampler(flaky, interval_s=0.001) as s:
            while calls["n"] < 5:
                pass
    summary = s.summary()
    assert s.errors == 1 and summary["samples"] == len(s.samples) >= 4
    assert summary["power_watts"] == {"min": 71.234, "median": 71.234, "max": 71.234}
    assert summary["sm_clock_mhz"]["median"] == 1980.0
    assert summary["throttle"] == ["software power cap"]


def test_sampler_without_reader_is_a_no_op():
    with Sampler(None) as s:
        pass
    assert s.summary() == {"samples": 0, "interval_s": 0.1}


# ---- planner gpu-info -------------------------------------------------------------------------

runner = CliRunner()


def test_gpu_info_without_gpu_is_one_line_exit_0(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml",
                        FakeNVML(fail={"nvmlInit": real.NVML_ERROR_DRIVER_NOT_LOADED}))
    res = runner.invoke(app, ["gpu-info"])
    assert res.exit_code == 0
    assert res.stdout == "no NVIDIA GPU: NVIDIA driver not loaded\n"


def test_gpu_info_lists_the_canned_h100(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml",
                        FakeNVML(fail={"nvmlDeviceGetPowerUsage": real.NVML_ERROR_NOT_SUPPORTED}))
    res = runner.invoke(app, ["gpu-info"])
    assert res.exit_code == 0
    for text in ("NVIDIA H100 80GB HBM3", "h100-sxm", H100["uuid"], "550.54.15", "9.0",
                 "1,980 (1,980)"):
        assert text in res.stdout
    assert "power_watts (not supported)" in res.stderr
    res = runner.invoke(app, ["gpu-info", "--json"])
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1 and doc["available"] is True
    assert doc["devices"][0]["profile"] == "h100-sxm"
    assert doc["devices"][0]["power_limit_watts"] == 700.0
    assert doc["devices"][0]["power_watts"] is None

