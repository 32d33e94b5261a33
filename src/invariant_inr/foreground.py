r"""Robust foreground weights of noisy images, so that the canonical rules hold up under noise.

The canonical rules of :mod:`invariant_inr.center` weigh every pixel by its intensity. On a noisy
image the noise of the whole frame then dominates the moments (their weight grows with the distance
from the centre), and on MNIST(U) digits with Gaussian noise of standard deviation 0.1 the rules are
no better than chance. :func:`foreground_weights` replaces the intensities by weights that keep the
object and drop the background:

1. **Blur**: :math:`D = m + G_s * (J - m)`, an isotropic Gaussian blur of ``blur_pixels`` pixels (a
   matched filter for strokes a few pixels wide), with the frame extended by its median :math:`m`. Its noise is nearly Gaussian even where
   the pixels' is not (noise clipped at 0, as in images stored as bytes).
2. **Background and noise, per image and channel** (:func:`estimate_background`): the level
   :math:`b` is the median of :math:`D`; its noise standard deviation :math:`\hat\sigma_D` comes from
   the median absolute difference of horizontal and vertical neighbours of :math:`D`, scaled by what
   it is for white noise. The object's edges are a minority of the pairs, so the median ignores them.
3. **Detection**: a pixel is *foreground* if it is connected (8-neighbours) through pixels with
   :math:`D - b > t_{low}\hat\sigma_D` to a pixel with :math:`D - b > t\,\hat\sigma_D` (hysteresis
   thresholding, as in Canny's edge detector). The default :math:`t = \sqrt{2 \ln P}` for ``P``
   pixels is the universal threshold of wavelet denoising (Donoho and Johnstone, 1994): pure noise
   exceeds it at about one pixel in :math:`P \sqrt{\pi \ln P}`, so that a frame of noise is left
   nearly empty; the lower :math:`t_{low}` recovers the faint parts of the object next to the
   confident ones without admitting isolated noise.
4. **Weights**: :math:`w = \sum_c \max(J_c - b_c, 0)` on the foreground, 0 elsewhere: the
   *unblurred* intensities above the background, whose noise is zero-mean and so averages out of
   the moments.

On a noiseless image whose blurred background is zero over most of the frame (more than half of
the pairs of neighbours, ``3 * blur_pixels`` in from the edges), :math:`\hat\sigma = 0` and :math:`b = 0`, every pixel of the object is foreground, and :math:`w` is exactly the L1 mass over
channels that the rules use without denoising: the canonical pose is unchanged, bit for bit (so
are its exact equivariances). On noisy images all steps commute with quarter turns and flips of
the grid (the median and the set of neighbour differences are unchanged by them, the blur kernel is
symmetric, connectivity is 8-neighbour), so the rules stay exactly equivariant to those; for other
angles the Gaussian blur is rotation-invariant in the continuum, and equivariance holds up to
interpolation and noise.

Assumptions (document them for new data): the foreground is *brighter* than the background (for
dark objects on a bright background, e.g. some cryo-EM micrographs, pass ``-images``); the
background is roughly flat and covers more than half of the frame; the noise is roughly white.
An image of pure noise gets a few or no foreground pixels, and the rules then return a finite pose
(the identity when no pixel is left).

:func:`remove_background` returns the same detection per channel, ``(B, C, H, W)``: a denoised copy
of the image to show a network (``IRLINR(encoder_denoise="auto")``).

Convention: images are ``(B, C, H, W)``; weights are ``(B, 1, H, W)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _checks

__all__ = [
    "DEFAULT_BLUR_PIXELS",
    "DEFAULT_LOW_THRESHOLD",
    "MAD_TO_STD",
    "estimate_background",
    "foreground_weights",
    "remove_background",
    "universal_threshold",
]

MAD_TO_STD = 1.482602218505602
"""Ratio of the standard deviation to the median absolute deviation of a Gaussian, ``1 / Phi^-1(3/4)``."""
DEFAULT_BLUR_PIXELS = 1.0
"""Standard deviation, in pixels, of the detection blur of :func:`foreground_weights`."""
DEFAULT_LOW_THRESHOLD = 2.5
"""Lower hysteresis threshold of :func:`foreground_weights`, in noise standard deviations of the blurred image."""


def universal_threshold(num_pixels: int) -> float:
    r"""The universal threshold :math:`\sqrt{2 \ln P}` (in noise standard deviations) for ``P`` pixels.

    Example:
        >>> round(universal_threshold(50 * 50), 3)
        3.956
    """
    _checks.check_positive_int(num_pixels, "num_pixels")
    return math.sqrt(2.0 * math.log(max(num_pixels, 2)))


def estimate_background(images: Tensor, *, blur_pixels: float = DEFAULT_BLUR_PIXELS) -> tuple[Tensor, Tensor]:
    r"""Background level and white-noise standard deviation of each image and channel.

    Both come from the image blurred by an isotropic Gaussian of ``blur_pixels`` pixels, whose
    noise is nearly Gaussian even when the pixels' is not (e.g. clipped at 0): the level is its
    median; the noise standard deviation is :math:`1.4826\,\mathrm{median}|D_p - D_q|` over all
    pairs of horizontal and vertical neighbours, divided by the standard deviation that a
    difference of the blurred image has for white noise of standard deviation 1,
    :math:`\sqrt{2\|k\|^2(\|k\|^2 - \langle k, Sk\rangle)}` (``k`` the 1-D kernel, ``S`` a
    shift by one pixel). Both are measured away from the edges (``ceil(3 * blur_pixels)`` pixels in,
    where the frame allows it), where the blurred noise is weaker. The object's
    blurred edges are a minority of the pairs, and the median mostly ignores them.

    Args:
        images: ``(B, C, H, W)`` floating images.
        blur_pixels: standard deviation of the blur, in pixels (0: the raw pixels).

    Returns:
        ``level (B, C)`` and ``noise_std (B, C)`` (of the pixels' noise, before the blur); both 0
        for a noiseless image whose blurred background is zero over most of the frame (more than
        half of the pairs of neighbours).
        A bright object over a fraction ``f`` of the frame pulls the median level up by about
        :math:`\Phi^{-1}(1 / (2(1 - f)))` noise standard deviations of the blurred image (0.43 for
        ``f = 1/4``), and its blurred edges raise the noise estimate a little (about 10 % for a
        square over a quarter of the frame): the detection errs on the safe side.

    Example:
        >>> import torch
        >>> noise = 0.3 + 0.2 * torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> level, noise_std = estimate_background(noise)
        >>> bool((level - 0.3).abs().max() < 0.02), bool((noise_std - 0.2).abs().max() < 0.02)
        (True, True)
    """
    _checks.check_images(images)
    blur_pixels = _checks.check_positive_float(blur_pixels, "blur_pixels", allow_zero=True)
    kernel = _gaussian_kernel(blur_pixels, device=images.device, dtype=images.dtype)
    level, blurred_std = _background(_blur_about_median(images, kernel), kernel)
    return level, blurred_std / kernel.pow(2).sum()


def _background(blurred: Tensor, kernel: Tensor) -> tuple[Tensor, Tensor]:
    """Level ``(B, C)`` and noise standard deviation ``(B, C)`` *of the blurred image* (see :func:`estimate_background`).

    Measured away from the edges (``radius`` pixels in), where the blurred noise is weaker, unless
    the frame is too small for that.
    """
    batch, channels, height, width = blurred.shape
    radius = (kernel.numel() - 1) // 2
    if height - 2 * radius >= 2 and width - 2 * radius >= 2:
        blurred = blurred[..., radius : height - radius, radius : width - radius]
    level = blurred.reshape(batch, channels, -1).median(dim=-1).values  # (B, C)
    horizontal = (blurred[..., :, 1:] - blurred[..., :, :-1]).reshape(batch, channels, -1)  # (B, C, h(w-1))
    vertical = (blurred[..., 1:, :] - blurred[..., :-1, :]).reshape(batch, channels, -1)  # (B, C, (h-1)w)
    differences = torch.cat([horizontal, vertical], dim=-1).abs()  # pooled: a quarter turn swaps the two sets
    norm_sq = kernel.pow(2).sum()
    neighbour = (kernel[1:] * kernel[:-1]).sum()  # <k, S k>
    # std of a difference = sqrt(2 (|k|^2 - <k, Sk>) / |k|^2) times the std of the blurred image
    ratio = torch.sqrt(2.0 * (norm_sq - neighbour) / norm_sq)
    return level, differences.median(dim=-1).values * MAD_TO_STD / ratio


def _gaussian_kernel(std_pixels: float, *, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Normalised 1-D Gaussian ``(K,)``, radius ``ceil(3 std)`` pixels; ``[1]`` for ``std = 0``."""
    radius = math.ceil(3.0 * std_pixels)
    if radius == 0:
        return torch.ones(1, device=device, dtype=dtype)
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (offsets / std_pixels) ** 2)
    return kernel / kernel.sum()


def _blur(images: Tensor, kernel: Tensor) -> Tensor:
    """Separable blur of every channel, ``(B, C, H, W)``, zeros outside the frame.

    Zeros, not replicated edges: replicating a noisy edge pixel multiplies its noise, and the corners
    would be detected as foreground; with zeros the edge band only has less noise (and is left out
    of the background statistics).
    """
    channels = images.shape[1]
    radius = (kernel.numel() - 1) // 2
    if radius == 0:
        return images
    rows = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    cols = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(images, rows, padding=(0, radius), groups=channels)
    return F.conv2d(out, cols, padding=(radius, 0), groups=channels)


def _blur_about_median(images: Tensor, kernel: Tensor) -> Tensor:
    """``m + G * (J - m)`` with ``m`` the median of each image and channel: outside the frame counts as
    the median, so adding a constant to an image adds it to the result (dark objects can be negated)."""
    batch, channels, _, _ = images.shape
    median = images.reshape(batch, channels, -1).median(dim=-1).values[..., None, None]  # (B, C, 1, 1)
    return median + _blur(images - median, kernel)


def _hysteresis(strong: Tensor, weak: Tensor, dtype: torch.dtype) -> Tensor:
    """Pixels of ``weak`` 8-connected through ``weak`` to a pixel of ``strong`` (``strong`` within ``weak``).

    Grows all images of the batch at once, one ring per step, until nothing changes.
    """
    mask = strong & weak
    for _ in range(weak.shape[-2] * weak.shape[-1]):  # bound: a path visits each pixel at most once
        grown = F.max_pool2d(mask.to(dtype), 3, stride=1, padding=1).bool() & weak  # (max pooling needs floats)
        if torch.equal(grown, mask):
            break
        mask = grown
    return mask


def foreground_weights(
    images: Tensor,
    *,
    blur_pixels: float = DEFAULT_BLUR_PIXELS,
    threshold: float | None = None,
    low_threshold: float = DEFAULT_LOW_THRESHOLD,
) -> Tensor:
    r"""Per-pixel foreground mass of noisy images: background removed, noise outside the object dropped.

    See the module docstring for the method and its assumptions (foreground brighter than a roughly
    flat background that covers more than half the frame; white noise).

    Args:
        images: ``(B, C, H, W)`` floating images.
        blur_pixels: standard deviation of the isotropic Gaussian detection blur, in pixels
            (0: no blur).
        threshold: detection threshold in noise standard deviations of the blurred image; default
            :func:`universal_threshold` of ``H * W``.
        low_threshold: lower hysteresis threshold: pixels above it join the foreground when they
            are connected to a detection. It must not exceed an explicit ``threshold``; above the
            default (universal) one, as on frames of under 23 pixels, it is lowered to it.

    Returns:
        ``(B, 1, H, W)`` non-negative weights, :math:`\sum_c \max(J_c - b_c, 0)` on the foreground
        and 0 elsewhere; differentiable with respect to ``images`` almost everywhere (the
        foreground mask itself is piecewise constant).

    Example:
        >>> import torch
        >>> clean = torch.zeros(1, 1, 32, 32); clean[0, 0, 10:14, 8:24] = 1.0  # a bar
        >>> torch.equal(foreground_weights(clean), clean)  # noiseless: the image itself
        True
        >>> noisy = clean + 0.3 * torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> weights = foreground_weights(noisy)
        >>> float(weights[..., 10:14, 8:24].sum() / weights.sum()) > 0.9  # the bar's mass, not the noise's
        True
    """
    mask, above = _foreground(images, blur_pixels, threshold, low_threshold)
    return torch.where(mask, above.sum(dim=1, keepdim=True), torch.zeros((), device=images.device, dtype=images.dtype))


def remove_background(
    images: Tensor,
    *,
    blur_pixels: float = DEFAULT_BLUR_PIXELS,
    threshold: float | None = None,
    low_threshold: float = DEFAULT_LOW_THRESHOLD,
) -> Tensor:
    r"""The images with their background removed: :math:`\max(J_c - b_c, 0)` on the foreground, 0 elsewhere.

    The same detection as :func:`foreground_weights` (whose weights are the sum of these channels),
    keeping the channels: a denoised copy of the image to show a network, in which the noise of the
    background is gone and the object keeps its own (zero-mean) noise. For one channel it *is*
    :func:`foreground_weights`; on a noiseless image with a zero background it is the image itself
    (negative pixels clipped to 0).

    Args:
        images: ``(B, C, H, W)`` floating images.
        blur_pixels: see :func:`foreground_weights`.
        threshold: see :func:`foreground_weights`.
        low_threshold: see :func:`foreground_weights`.

    Returns:
        ``(B, C, H, W)`` non-negative images.

    Example:
        >>> import torch
        >>> clean = torch.zeros(1, 1, 32, 32); clean[0, 0, 10:14, 8:24] = 1.0  # a bar
        >>> noisy = clean + 0.3 * torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> cleaned = remove_background(noisy)
        >>> torch.equal(cleaned, foreground_weights(noisy)), bool((cleaned[..., :8, :] == 0).all())
        (True, True)
    """
    mask, above = _foreground(images, blur_pixels, threshold, low_threshold)
    return torch.where(mask, above, torch.zeros((), device=images.device, dtype=images.dtype))


def _foreground(images: Tensor, blur_pixels: float, threshold: float | None, low_threshold: float) -> tuple[Tensor, Tensor]:
    """The foreground mask ``(B, 1, H, W)`` (bool) and the intensities above the background ``(B, C, H, W)``."""
    _checks.check_images(images)
    blur_pixels = _checks.check_positive_float(blur_pixels, "blur_pixels", allow_zero=True)
    _, _, height, width = images.shape
    high = universal_threshold(height * width) if threshold is None else _checks.check_positive_float(threshold, "threshold", allow_zero=True)
    low = _checks.check_positive_float(low_threshold, "low_threshold", allow_zero=True)
    if threshold is None:
        low = min(low, high)
    elif low > high:
        raise ValueError(f"low_threshold must be at most threshold ({high:.4g}), got {low}")
    kernel = _gaussian_kernel(blur_pixels, device=images.device, dtype=images.dtype)  # (K,)
    blurred = _blur_about_median(images, kernel)  # (B, C, H, W)
    level, blurred_std = _background(blurred, kernel)  # (B, C) each
    detection = blurred - level[..., None, None]
    detection_std = blurred_std[..., None, None]
    # foreground is brighter than the background in at least one channel
    strong = (detection > high * detection_std).any(dim=1, keepdim=True)  # (B, 1, H, W)
    weak = (detection > low * detection_std).any(dim=1, keepdim=True)
    mask = _hysteresis(strong, weak, images.dtype)  # (B, 1, H, W) bool
    return mask, torch.relu(images - level[..., None, None])
