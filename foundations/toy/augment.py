"""The toy modality's view policy: on-device image augmentation built from kornia."""

from __future__ import annotations

import kornia.augmentation as K
from torch import Tensor, nn


class ImageViews(nn.Module):
    """One random view of an image batch; call it twice for two views.

    Every sample gets its own random resized crop (resampled to ``size``), horizontal and
    vertical flips (each with probability 0.5), brightness and contrast jitter and additive
    Gaussian noise. All of it is kornia, runs on the batch's device and is differentiable; nothing
    is written by hand. Flips are safe here because every shape class is mirror-symmetric as a
    set. Colour is deliberately not jittered beyond brightness/contrast.

    Args:
        size: Output height and width.
        scale: Range of the crop area as a fraction of the input area.
        noise_std: Standard deviation of the additive Gaussian noise (0 disables it).
        brightness: Brightness factor drawn from ``[1 - brightness, 1 + brightness]``
            (0 disables it).
        contrast: Contrast factor drawn from ``[1 - contrast, 1 + contrast]`` (0 disables it).

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
    ) -> None:
        super().__init__()
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        low, high = scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        if noise_std < 0 or not 0 <= brightness < 1 or not 0 <= contrast < 1:
            raise ValueError(
                "need noise_std >= 0 and brightness, contrast in [0, 1), got "
                f"{noise_std}, {brightness}, {contrast}"
            )
        self.size = size
        steps: list[nn.Module] = [
            K.RandomResizedCrop((size, size), scale=(low, high)),
            K.RandomHorizontalFlip(),
            K.RandomVerticalFlip(),
        ]
        if brightness > 0:
            steps.append(K.RandomBrightness((1.0 - brightness, 1.0 + brightness)))
        if contrast > 0:
            steps.append(K.RandomContrast((1.0 - contrast, 1.0 + contrast)))
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
