"""The toy modality's view policy: on-device image augmentation built from kornia."""

from __future__ import annotations

import kornia.augmentation as K
from torch import Tensor, nn


class ImageViews(nn.Module):
    """One random view of an image batch; call it twice for two views.

    Every sample gets its own random rotation (optional), random resized crop (resampled to
    ``size``), horizontal and vertical flips (each with probability 0.5), brightness, contrast and
    saturation jitter, and optionally a random channel permutation, conversion to grey and
    inversion, then additive Gaussian noise. All of it is kornia, runs on the batch's device and is
    differentiable; nothing is written by hand.

    Flips and rotations are safe here because the generator draws each shape's orientation
    uniformly and every shape class is mirror-symmetric as a set. The colour steps matter for
    contrastive methods: without them two crops of one image are matched most easily by their
    shared background and foreground colours, and the encoder learns colour instead of shape.
    Channel shuffle, grey and inversion teach exactly the generator's colour, tint and polarity
    nuisance. They are off by default (so a view with every step disabled is the image up to a
    flip); the toy recipes switch them on.

    Args:
        size: Output height and width.
        scale: Range of the crop area as a fraction of the input area.
        noise_std: Standard deviation of the additive Gaussian noise (0 disables it).
        brightness: Brightness factor drawn from ``[1 - brightness, 1 + brightness]``
            (0 disables it).
        contrast: Contrast factor drawn from ``[1 - contrast, 1 + contrast]`` (0 disables it).
        saturation: Saturation factor drawn from ``[1 - saturation, 1 + saturation]``
            (0 disables it).
        rotation: Rotation angle drawn from ``[-rotation, rotation]`` degrees, applied before the
            crop with reflection padding (0 disables it).
        channel_shuffle: Probability of randomly permuting the colour channels.
        grayscale: Probability of converting the view to grey (kept as 3 channels).
        invert: Probability of inverting the view (``1 - x``).

    Raises:
        ValueError: When an argument is out of range.
    """

    def __init__(
        self,
        size: int = 32,
        scale: tuple[float, float] = (0.4, 1.0),
        noise_std: float = 0.05,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.0,
        rotation: float = 0.0,
        channel_shuffle: float = 0.0,
        grayscale: float = 0.0,
        invert: float = 0.0,
    ) -> None:
        super().__init__()
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        low, high = scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        if noise_std < 0 or not all(0 <= x < 1 for x in (brightness, contrast, saturation)):
            raise ValueError(
                "need noise_std >= 0 and brightness, contrast, saturation in [0, 1), got "
                f"{noise_std}, {brightness}, {contrast}, {saturation}"
            )
        if not 0 <= rotation <= 180:
            raise ValueError(f"rotation must lie in [0, 180] degrees, got {rotation}")
        probabilities = {
            "channel_shuffle": channel_shuffle,
            "grayscale": grayscale,
            "invert": invert,
        }
        for name, value in probabilities.items():
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {value}")
        self.size = size
        steps: list[nn.Module] = []
        if rotation > 0:
            steps.append(K.RandomAffine(degrees=rotation, padding_mode="reflection", p=1.0))
        steps += [
            K.RandomResizedCrop((size, size), scale=(low, high)),
            K.RandomHorizontalFlip(),
            K.RandomVerticalFlip(),
        ]
        if brightness > 0:
            steps.append(K.RandomBrightness((1.0 - brightness, 1.0 + brightness)))
        if contrast > 0:
            steps.append(K.RandomContrast((1.0 - contrast, 1.0 + contrast)))
        if saturation > 0:
            steps.append(K.RandomSaturation((1.0 - saturation, 1.0 + saturation)))
        if channel_shuffle > 0:
            steps.append(K.RandomChannelShuffle(p=channel_shuffle))
        if grayscale > 0:
            steps.append(K.RandomGrayscale(p=grayscale))
        if invert > 0:
            steps.append(K.RandomInvert(p=invert))
        if noise_std > 0:
            steps.append(K.RandomGaussianNoise(std=noise_std, p=1.0))
        self.transform = nn.Sequential(*steps)

    def forward(self, images: Tensor) -> Tensor:
        """Augment ``images``.

        Args:
            images: Float batch ``[B, C, H, W]``, values roughly in ``[0, 1]``.

        Returns:
            One view ``[B, C, size, size]``, same dtype and device.

        Raises:
            ValueError: When ``images`` is not a 4D floating-point tensor.
        """
        if images.dim() != 4 or not images.is_floating_point():
            raise ValueError(
                f"ImageViews expects a float [B, C, H, W] batch, got {images.dtype} "
                f"{tuple(images.shape)}"
            )
        return self.transform(images).to(images.dtype)
