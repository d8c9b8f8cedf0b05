"""Loudness and true peak measured in-process, by the book: ITU-R BS.1770-4 and EBU Tech 3342.

Integrated loudness is the mean power of K-weighted 400 ms blocks (75 % overlap) above the absolute gate
(−70 LUFS) and the relative gate (−10 LU under the mean of the blocks above the absolute one). The K-weighting
filters are libebur128's (ffmpeg's ``ebur128`` uses the same design), computed for the signal's own rate. Loudness
range is the spread (10th to 95th percentile) of 3 s short-term loudness above −70 LUFS and −20 LU relative.
True peak is the sample peak of the signal oversampled 4× (SoX's resampler): what BS.1770's Annex 2 describes.

Measuring here instead of in an ffmpeg pass is what makes mastering cheap enough to repeat: an ffmpeg meter
costs a process, a decode and (for true peak) a 192 kHz resample every time; this costs one filter over
numpy arrays. The tests hold it to ffmpeg's meter on real narrations.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import soxr

ABSOLUTE_GATE_LUFS = -70.0
OVERSAMPLING = 4
_STEP_SECONDS = 0.1  # gating blocks start every 100 ms: they are sums of 100 ms steps
_BLOCK_STEPS = 4  # 400 ms momentary blocks
_SHORT_TERM_STEPS = 30  # 3 s short-term blocks (loudness range)
_CHUNK = 1 << 18  # samples per piece of the long passes: memory stays flat on long signals
_MARGIN = 1024  # context on each side of an oversampled piece, so the resampler's filter sees what surrounds it
_RESPONSE_SECONDS = 0.2  # the K-weighting filter's impulse response, kept to where it has decayed below 1e-12


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float
    lra: float = 0.0


def measure(samples: np.ndarray, rate: int, peak: bool = True) -> Loudness:
    """Integrated loudness, true peak (−inf without ``peak``) and loudness range of mono ``samples`` (float,
    full scale ±1)."""
    steps = step_sums(k_weighted_power(samples, rate), rate)
    return Loudness(
        integrated_lufs=_gated(_blocks(steps, _BLOCK_STEPS, rate), relative_lu=-10.0),
        true_peak_dbtp=true_peak(samples, rate) if peak else float("-inf"),
        lra=_loudness_range(_blocks(steps, _SHORT_TERM_STEPS, rate)),
    )


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    return loudness_of_steps(step_sums(k_weighted_power(samples, rate), rate), rate)


def loudness_of_steps(steps: np.ndarray, rate: int) -> float:
    """Integrated loudness from the power summed over each 100 ms step (``step_sums``)."""
    return _gated(_blocks(steps, _BLOCK_STEPS, rate), relative_lu=-10.0)


def true_peak(samples: np.ndarray, rate: int) -> float:
    """The true peak in dBTP: the sample peak of ``samples`` oversampled 4×."""
    highest = float(peak_envelope(samples, rate).max(initial=0.0))
    return 20 * math.log10(highest) if highest > 0 else float("-inf")


def peak_envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """For each sample, the highest magnitude of the 4× oversampled signal from it up to the next sample: the true
    peak each sample stands for (what a limiter has to hold under its ceiling)."""
    count = len(samples)
    envelope = np.abs(samples).astype(np.float32)
    for start in range(0, count, _CHUNK):
        end = min(start + _CHUNK, count)
        left, right = max(0, start - _MARGIN), min(count, end + _MARGIN)
        piece = soxr.resample(
            np.ascontiguousarray(samples[left:right], dtype=np.float32), rate, rate * OVERSAMPLING, quality="HQ"
        )
        inner = np.abs(piece[(start - left) * OVERSAMPLING : (end - left) * OVERSAMPLING])
        whole = len(inner) // OVERSAMPLING
        for phase in range(OVERSAMPLING):  # strided maxima: numpy is slow at reducing a 4-wide axis
            np.maximum(envelope[start : start + whole], inner[phase :: OVERSAMPLING][:whole],
                       out=envelope[start : start + whole])  # fmt: skip
    return envelope


def k_weighted_power(samples: np.ndarray, rate: int) -> np.ndarray:
    """The K-weighted signal squared, sample by sample (float32): an FFT convolution (overlap-add) with the
    filter's impulse response, which equals running the two biquads to within 1e-12."""
    response = _k_response(rate)
    taps = len(response)
    size = 1 << (4 * taps - 1).bit_length()
    step = size - taps + 1
    spectrum = np.fft.rfft(response.astype(np.float32), size)  # numpy ≥ 2 transforms float32 as float32
    count = len(samples)
    weighted = np.zeros(count + taps - 1, dtype=np.float32)
    for start in range(0, count, step):
        piece = np.asarray(samples[start : start + step], dtype=np.float32)
        out = np.fft.irfft(np.fft.rfft(piece, size) * spectrum, size)[: len(piece) + taps - 1]
        weighted[start : start + len(out)] += out
    weighted = weighted[:count]
    return weighted * weighted


@functools.lru_cache(maxsize=4)
def _k_response(rate: int) -> np.ndarray:
    """The impulse response of the K-weighting filter at ``rate``: libebur128's high shelf (the head) and RLB
    high-pass (ffmpeg's ``ebur128`` designs the same two biquads for the signal's rate)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)  # fmt: skip
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = (1.0, -2.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    signal = [1.0] + [0.0] * (round(_RESPONSE_SECONDS * rate) - 1)
    for b0, b1, b2, a1, a2 in (shelf, highpass):  # direct form I, once per rate
        x1 = x2 = y1 = y2 = 0.0
        out = []
        for x in signal:
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, x, y1, y
            out.append(y)
        signal = out
    return np.array(signal)


def step_length(rate: int) -> int:
    """Samples in a 100 ms step."""
    return round(_STEP_SECONDS * rate)


def step_sums(power: np.ndarray, rate: int) -> np.ndarray:
    """The summed power of each whole 100 ms step (float64)."""
    step = step_length(rate)
    whole = len(power) // step
    return power[: whole * step].reshape(whole, step).sum(axis=1, dtype=np.float64)


def _blocks(steps: np.ndarray, length: int, rate: int) -> np.ndarray:
    """Mean power of every block of ``length`` steps, one starting at each step."""
    if len(steps) < length:
        return np.zeros(0)
    return np.convolve(steps, np.ones(length), mode="valid") / (length * step_length(rate))


def _lufs(power: np.ndarray | float) -> np.ndarray:
    return -0.691 + 10 * np.log10(np.maximum(power, 1e-20))


def _gated(blocks: np.ndarray, relative_lu: float) -> float:
    """Loudness of the blocks that pass the absolute gate and the gate ``relative_lu`` under their mean."""
    audible = blocks[_lufs(blocks) > ABSOLUTE_GATE_LUFS]
    if audible.size == 0:
        return float("-inf")
    kept = audible[_lufs(audible) > float(_lufs(audible.mean())) + relative_lu]
    return float(_lufs(kept.mean()))


def _loudness_range(short_term: np.ndarray) -> float:
    audible = short_term[_lufs(short_term) > ABSOLUTE_GATE_LUFS]
    if audible.size < 2:
        return 0.0
    kept = _lufs(audible[_lufs(audible) > float(_lufs(audible.mean())) - 20.0])
    if kept.size < 2:
        return 0.0
    low, high = np.percentile(kept, [10, 95])
    return float(high - low)
