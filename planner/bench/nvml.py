"""What the NVIDIA driver reports, through NVML (package ``nvidia-ml-py``, ``import pynvml``).

:func:`probe` never raises: a missing library, an unloaded driver, a permission error or a field
a device does not support each end up as a one-line ``reason`` or as a field left ``None`` (named
in ``GPUInfo.unavailable``).  NVML ignores ``CUDA_VISIBLE_DEVICES`` and numbers devices in its own
order, so devices are matched to CUDA devices by UUID (:func:`normalize_uuid`).

The ``nvml`` argument of every function takes a module with pynvml's API; tests pass a fake.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Optional

# pynvml's error codes (stable since the first NVML release), used when the module lacks them
_NOT_SUPPORTED, _NO_PERMISSION, _DRIVER_NOT_LOADED, _LIBRARY_NOT_FOUND = 3, 4, 9, 12
_FUNCTION_NOT_FOUND = 13

# nvmlClocksEventReasons bits (formerly "throttle reasons"); GpuIdle (0x1) is not a slowdown
THROTTLE_REASONS = {
    0x2: "applications clocks setting",
    0x4: "software power cap",
    0x8: "hardware slowdown",
    0x10: "sync boost",
    0x20: "software thermal slowdown",
    0x40: "hardware thermal slowdown",
    0x80: "hardware power brake",
    0x100: "display clock setting",
}

_nvml_lock = threading.Lock()  # nvmlInit/nvmlShutdown are reference-counted; keep them paired


@dataclass(frozen=True)
class GPUInfo:
    """One device as NVML sees it.  ``None`` means NVML could not say (see ``unavailable``)."""

    index: int  # NVML's index (not the CUDA ordinal)
    name: str
    uuid: Optional[str] = None
    memory_total_bytes: Optional[int] = None
    compute_capability: Optional[tuple[int, int]] = None
    sm_clock_mhz: Optional[int] = None
    max_sm_clock_mhz: Optional[int] = None
    mem_clock_mhz: Optional[int] = None
    max_mem_clock_mhz: Optional[int] = None
    power_watts: Optional[float] = None
    power_limit_watts: Optional[float] = None
    temperature_c: Optional[int] = None
    pci_bus_id: Optional[str] = None
    profile: Optional[str] = None  # shipped hardware profile this device maps to
    unavailable: dict[str, str] = field(default_factory=dict)  # field -> why it is None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compute_capability"] = (f"{self.compute_capability[0]}.{self.compute_capability[1]}"
                                   if self.compute_capability else None)
        return d


@dataclass(frozen=True)
class NVMLProbe:
    """The probe's answer: ``available`` with devices, or not, with a one-line ``reason``."""

    available: bool
    reason: str = ""
    driver_version: Optional[str] = None
    cuda_driver_version: Optional[str] = None  # e.g. "12.4"
    devices: tuple[GPUInfo, ...] = ()
    warnings: tuple[str, ...] = ()

    def by_uuid(self, uuid: str) -> Optional[GPUInfo]:
        key = normalize_uuid(uuid)
        return next((d for d in self.devices if d.uuid and normalize_uuid(d.uuid) == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {"available": self.available, "reason": self.reason,
                "driver_version": self.driver_version,
                "cuda_driver_version": self.cuda_driver_version,
                "devices": [d.as_dict() for d in self.devices], "warnings": list(self.warnings)}


# ---- names and UUIDs ------------------------------------------------------------------------

def normalize_uuid(uuid: Any) -> str:
    """Compare NVML's ``GPU-8f1c…`` with torch's ``8f1c…`` (or a ``uuid.UUID``/bytes): the hex
    digits only, lower case."""
    if isinstance(uuid, (bytes, bytearray)):
        uuid = uuid.decode(errors="replace") if all(32 <= b < 127 for b in uuid) else uuid.hex()
    s = str(uuid).strip().lower()  # uuid.UUID and torch's _CUuuid print as 8-4-4-4-12 hex
    s = re.sub(r"^(gpu|mig)-", "", s)
    return re.sub(r"[^0-9a-f]", "", s)


def profile_for_name(name: str, memory_total_bytes: Optional[int] = None) -> Optional[str]:
    """The shipped profile for an NVML device name, or ``None`` when none matches.

    >>> profile_for_name("NVIDIA H100 80GB HBM3")
    'h100-sxm'
    """
    n = re.sub(r"[-_]+", " ", name.lower())
    words = set(n.split())
    gb = memory_total_bytes / 2**30 if memory_total_bytes else None
    if "nvl" in words:  # H100 NVL / H200 NVL: different clocks and power; no shipped profile
        return None
    if "h200" in n:
        return "h200-sxm"
    if "h100" in n:
        return "h100-pcie" if "pcie" in n else "h100-sxm"  # "H100 80GB HBM3", "H100 SXM5 80GB"
    if "a100" in n:
        big = "80gb" in n or (gb is not None and gb > 60 and "40gb" not in n)
        if "pcie" in n:
            return "a100-80gb-pcie" if big else None  # no A100-40GB PCIe profile
        if "40gb" in n:
            return "a100-40gb-sxm"
        return "a100-80gb-sxm" if big else ("a100-40gb-sxm" if gb is not None else None)
    if "l40s" in words:
        return "l40s"
    if "b200" in n:
        return "b200"
    return None


# ---- the probe ----------------------------------------------------------------------------

def _import_pynvml():
    import pynvml  # noqa: PLC0415 - nvidia-ml-py; imported lazily to keep start-up fast

    return pynvml


def _error_code(exc: BaseException) -> Optional[int]:
    v = getattr(exc, "value", None)
    return v if isinstance(v, int) else None


def explain(exc: BaseException, nvml: Any = None) -> str:
    """One line for an NVML failure."""
    code = _error_code(exc)
    get = (lambda k, d: getattr(nvml, k, d)) if nvml is not None else (lambda k, d: d)
    if isinstance(exc, ImportError):
        return "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    if code == get("NVML_ERROR_LIBRARY_NOT_FOUND", _LIBRARY_NOT_FOUND):
        return "NVML library not found (no NVIDIA driver installed)"
    if code == get("NVML_ERROR_DRIVER_NOT_LOADED", _DRIVER_NOT_LOADED):
        return "NVIDIA driver not loaded"
    if code == get("NVML_ERROR_NO_PERMISSION", _NO_PERMISSION):
        return "no permission to query the GPU through NVML"
    if code == get("NVML_ERROR_NOT_SUPPORTED", _NOT_SUPPORTED):
        return "not supported"
    if code == get("NVML_ERROR_FUNCTION_NOT_FOUND", _FUNCTION_NOT_FOUND):
        return "not provided by this driver"
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return f"NVML error: {msg}"


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, (bytes, bytearray)) else str(v)


class _Fields:
    """Calls NVML getters, keeping ``None`` and a reason for each one that fails."""

    def __init__(self, nvml: Any):
        self.nvml = nvml
        self.unavailable: dict[str, str] = {}

    def get(self, name: str, fn_name: str, *args: Any, convert: Callable = lambda v: v):
        fn = getattr(self.nvml, fn_name, None)
        if fn is None:
            self.unavailable[name] = f"{fn_name} missing from this nvidia-ml-py"
            return None
        try:
            return convert(fn(*args))
        except Exception as exc:  # noqa: BLE001 - the probe never raises
            self.unavailable[name] = explain(exc, self.nvml)
            return None


def _device(nvml: Any, index: int, handle: Any) -> GPUInfo:
    f = _Fields(nvml)
    sm = getattr(nvml, "NVML_CLOCK_SM", 1)
    mem = getattr(nvml, "NVML_CLOCK_MEM", 2)
    name = f.get("name", "nvmlDeviceGetName", handle, convert=_text) or "unknown NVIDIA GPU"
    total = f.get("memory_total_bytes", "nvmlDeviceGetMemoryInfo", handle,
                  convert=lambda m: int(m.total))
    cc = f.get("compute_capability", "nvmlDeviceGetCudaComputeCapability", handle,
               convert=lambda t: (int(t[0]), int(t[1])))
    fields = dict(
        index=index,
        name=name,
        uuid=f.get("uuid", "nvmlDeviceGetUUID", handle, convert=_text),
        memory_total_bytes=total,
        compute_capability=cc,
        sm_clock_mhz=f.get("sm_clock_mhz", "nvmlDeviceGetClockInfo", handle, sm, convert=int),
        max_sm_clock_mhz=f.get("max_sm_clock_mhz", "nvmlDeviceGetMaxClockInfo", handle, sm,
                               convert=int),
        mem_clock_mhz=f.get("mem_clock_mhz", "nvmlDeviceGetClockInfo", handle, mem, convert=int),
        max_mem_clock_mhz=f.get("max_mem_clock_mhz", "nvmlDeviceGetMaxClockInfo", handle, mem,
                                convert=int),
        power_watts=f.get("power_watts", "nvmlDeviceGetPowerUsage", handle,
                          convert=lambda mw: mw / 1000.0),
        power_limit_watts=f.get("power_limit_watts", "nvmlDeviceGetEnforcedPowerLimit", handle,
                                convert=lambda mw: mw / 1000.0),
        temperature_c=f.get("temperature_c", "nvmlDeviceGetTemperature", handle,
                            getattr(nvml, "NVML_TEMPERATURE_GPU", 0), convert=int),
        pci_bus_id=f.get("pci_bus_id", "nvmlDeviceGetPciInfo", handle,
                         convert=lambda p: _text(p.busId)),
    )
    return GPUInfo(**fields, profile=profile_for_name(name, total), unavailable=f.unavailable)


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def probe(nvml: Any = None) -> NVMLProbe:
    """Ask NVML what is installed.  Never raises; see the module docstring."""
    try:
        nvml = nvml if nvml is not None else _import_pynvml()
    except Exception as exc:  # noqa: BLE001 - ImportError and anything a broken install raises
        return NVMLProbe(False, explain(exc) if isinstance(exc, ImportError)
                         else f"cannot import pynvml: {exc}")
    try:
        with _nvml_lock:
            nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001
        return NVMLProbe(False, explain(exc, nvml))
    try:
        f = _Fields(nvml)
        driver = f.get("driver_version", "nvmlSystemGetDriverVersion", convert=_text)
        cuda = f.get("cuda_driver_version", "nvmlSystemGetCudaDriverVersion",
                     convert=_cuda_version)
        count = f.get("count", "nvmlDeviceGetCount", convert=int)
        if count is None:
            return NVMLProbe(False, f"NVML cannot count devices: {f.unavailable['count']}",
                             driver, cuda)
        devices, warnings = [], []
        for i in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
            except Exception as exc:  # noqa: BLE001
                warnings.append(f"device {i}: {explain(exc, nvml)}")
                continue
            devices.append(_device(nvml, i, handle))
        if not devices:
            reason = "NVML found no NVIDIA GPU" if not warnings else "; ".join(warnings)
            return NVMLProbe(False, reason, driver, cuda, (), tuple(warnings))
        return NVMLProbe(True, "", driver, cuda, tuple(devices), tuple(warnings))
    except Exception as exc:  # noqa: BLE001 - last line of defence: never raise
        return NVMLProbe(False, explain(exc, nvml))
    finally:
        _shutdown(nvml)


def _shutdown(nvml: Any) -> None:
    """nvmlShutdown that never raises (the probe and the sampler both end with it)."""
    try:
        with _nvml_lock:
            nvml.nvmlShutdown()
    except Exception:  # noqa: BLE001
        pass


# ---- live readings for the sampler ----------------------------------------------------------

def decode_throttle(mask: int) -> list[str]:
    """Names of the slowdown reasons set in an NVML clocks-event bitmask (idle left out)."""
    return [name for bit, name in THROTTLE_REASONS.items() if mask & bit]


@contextmanager
def device_reader(uuid: str, nvml: Any = None) -> Iterator[Optional[Callable[[], dict]]]:
    """Yield a function that reads the device's clocks, power, temperature and slowdown
    reasons now, or ``None`` when NVML cannot (the benchmark then runs unsampled)."""
    try:
        nvml = nvml if nvml is not None else _import_pynvml()
        with _nvml_lock:
            nvml.nvmlInit()
    except Exception:  # noqa: BLE001
        yield None
        return
    try:
        handle = None
        key = normalize_uuid(uuid)
        for i in range(int(nvml.nvmlDeviceGetCount())):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            if normalize_uuid(_text(nvml.nvmlDeviceGetUUID(h))) == key:
                handle = h
                break
    except Exception:  # noqa: BLE001
        handle = None
    try:
        yield None if handle is None else _reader(nvml, handle)
    finally:
        _shutdown(nvml)


def _reader(nvml: Any, handle: Any) -> Callable[[], dict]:
    sm = getattr(nvml, "NVML_CLOCK_SM", 1)
    mem = getattr(nvml, "NVML_CLOCK_MEM", 2)
    reasons_fn = (getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
                  or getattr(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None))

    def read() -> dict:
        f = _Fields(nvml)
        out = {
            "sm_clock_mhz": f.get("sm", "nvmlDeviceGetClockInfo", handle, sm, convert=float),
            "mem_clock_mhz": f.get("mem", "nvmlDeviceGetClockInfo", handle, mem, convert=float),
            "power_watts": f.get("power", "nvmlDeviceGetPowerUsage", handle,
                                 convert=lambda mw: mw / 1000.0),
            "temperature_c": f.get("temp", "nvmlDeviceGetTemperature", handle,
                                   getattr(nvml, "NVML_TEMPERATURE_GPU", 0), convert=float),
        }
        if reasons_fn is not None:
            try:
                out["throttle"] = decode_throttle(int(reasons_fn(handle)))
            except Exception:  # noqa: BLE001
                pass
        return out

    return read

