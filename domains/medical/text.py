"""Report encoder for image-report alignment: a Hugging Face transformers text model.

:class:`TextEncoder` wraps any transformers encoder (BERT, PubMedBERT, CXR-BERT, ...) found in a
local folder or already in the local Hugging Face cache; nothing is downloaded. It exposes
``modality`` and ``out_dim`` like :class:`foundations.encoders.Encoder`, so it drops into
:class:`foundations.methods.MultiModalAlignment` next to an image encoder. The tokenizer and
model come from transformers; only the pooling, layer freezing (as in ConVIRT, Zhang et al.,
2022) and the offline tiny default model are written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from foundations.encoders.pooling import masked_mean
from foundations.io import atomic_folder, cache_root

TextPool = Literal["cls", "mean"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
DEFAULT_MODEL_NAME = "tiny-bert-v1"

# Words of the embedded default's vocabulary: enough radiology-report English that synthetic
# reports tokenize without [UNK]. Changing it changes token ids, so bump DEFAULT_MODEL_NAME.
_REPORT_TEXT = """
liver hepatic kidney kidneys renal spleen splenic lung lungs pulmonary pancreas pancreatic
gallbladder adrenal bladder bowel colon stomach heart cardiac aorta brain bone bones chest
abdomen pelvis thyroid breast prostate uterus ovary lymph node nodes vessel vessels
parenchyma cortex pleural effusion airway mediastinum organ organs interpolar spine lumbar
vertebral body bases

cyst cysts cystic solid mass masses nodule nodules calcified calcification calcifications
hypodense hyperdense isodense hypoechoic hyperechoic enhancing enhancement nonenhancing
lesion lesions focal diffuse simple complex benign malignant suspicious metastasis
metastases tumor tumour hemangioma abscess fluid fat density attenuation signal intensity
margin margins smooth irregular lobulated spiculated round oval well ill defined
circumscribed homogeneous heterogeneous septated septations wall thin thick rim small large
tiny multiple single solitary several stable new unchanged increased decreased normal
abnormal unremarkable mild moderate severe consistent compatible likely possible probable
finding findings impression evidence appearance features opacity consolidation atelectasis
edema fracture dilatation obstruction no not none without absent present negative positive
abnormality dense focus granuloma punctate marginated sharply component indeterminate
characterisation characterization water soft tissue non degenerative change lymphadenopathy
free clear heights maintained

0 1 2 3 4 5 6 7 8 9 x mm cm size sized measuring measures measured diameter up to
approximately about

left right bilateral upper lower middle mid segment segments lobe lobes pole poles anterior
posterior superior inferior medial lateral central peripheral dome hilum base apex side
region within adjacent near at along between

ct mri mr ultrasound radiograph scan image images study contrast axial coronal sagittal
phase arterial venous portal delayed slice slices imaging key see advised

the a an of in is are was there seen noted identified demonstrated shows show showing with
and or on for from by this that these which has have be as also one two three other
otherwise again further follow recommended comparison prior since patient history any acute
"""
REPORT_WORDS: tuple[str, ...] = tuple(_REPORT_TEXT.split())
PUNCTUATION = (".", ",", ":", ";", "-", "(", ")", "/", "%", "+")
# Continuation pieces so that "12", "3.5" and "12mm" split into known tokens, not [UNK].
CONTINUATIONS = (*(f"##{d}" for d in "0123456789"), "##mm", "##cm", "##s")


def _vocabulary(words: Iterable[str]) -> list[str]:
    """Special tokens first, then the unique lower-cased words in first-seen order."""
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for word in words:
        token = word if word.startswith("##") or word in SPECIAL_TOKENS else word.lower()
        if token and token not in seen:
            seen.add(token)
            vocab.append(token)
    return vocab


def build_tiny_text_model(
    path: str | Path,
    vocab: Sequence[str] | None = None,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_position: int = 128,
    seed: int = 0,
) -> Path:
    """Write a small randomly initialised BERT and its WordPiece tokenizer to ``path``.

    The folder loads with ``AutoTokenizer.from_pretrained`` / ``AutoModel.from_pretrained``
    (``config.json``, ``model.safetensors``, ``tokenizer.json``, ``vocab.txt``). Weights come
    from ``seed`` without touching the global random state, so the same arguments write the
    same model.

    Args:
        path: Output folder (created; existing files are overwritten).
        vocab: Whole words of the vocabulary (lower-cased; ``##`` pieces kept as given);
            ``None`` uses :data:`REPORT_WORDS`. Special tokens, punctuation and digit
            continuations are always added.
        hidden_size: Hidden width; a multiple of ``heads``.
        layers: Transformer layers.
        heads: Attention heads.
        max_position: Longest token sequence the model accepts.
        seed: Seed of the random initialisation.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: When ``hidden_size`` is not a multiple of ``heads``.
    """
    from transformers import BertConfig, BertModel, BertTokenizer

    if hidden_size % heads != 0:
        raise ValueError(f"hidden_size {hidden_size} must be a multiple of heads {heads}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    words = _vocabulary([*(REPORT_WORDS if vocab is None else vocab), *PUNCTUATION, *CONTINUATIONS])
    (path / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    # In transformers 5 BertTokenizer is the fast (tokenizers) WordPiece tokenizer, and it
    # ignores `vocab_file=`: the vocabulary goes in as a token -> id mapping.
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(words)})
    tokenizer.model_max_length = max_position
    tokenizer.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max_position,
        pad_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(path)
    return path


def _is_checkpoint(folder: Path) -> bool:
    names = ("config.json", "model.safetensors", "tokenizer_config.json")
    return all((folder / name).is_file() for name in names)


def default_text_model() -> Path:
    """The embedded default report model, built into the cache folder on first use.

    Lives in ``cache_root()/"medical"/"tiny-bert-v1"``. It is written to a temporary folder and
    renamed into place, so concurrent processes (DDP ranks) never read a half-written model.

    Returns:
        The folder holding the model and tokenizer.
    """
    target = cache_root() / "medical" / DEFAULT_MODEL_NAME
    if _is_checkpoint(target):
        return target
    with atomic_folder(target, is_complete=_is_checkpoint) as staging:
        build_tiny_text_model(staging)
    return target


def _resolve(name_or_path: str | None) -> str:
    """A loadable folder or hub id; a path-like name must exist as a folder."""
    if name_or_path is None:
        return str(default_text_model())
    candidate = Path(name_or_path).expanduser()
    looks_local = candidate.is_absolute() or name_or_path.startswith((".", "~"))
    if candidate.exists() or looks_local:
        if not candidate.is_dir():
            raise FileNotFoundError(f"text model folder {candidate} does not exist")
        if not (candidate / "config.json").is_file():
            raise ValueError(
                f"{candidate} is not a transformers checkpoint (no config.json); save one with "
                "`save_pretrained` or build the default with build_tiny_text_model()"
            )
        return str(candidate)
    return name_or_path


def _layer_list(model: nn.Module) -> nn.ModuleList | None:
    """The stack of transformer layers of common encoder families (BERT, RoBERTa, DistilBERT)."""
    for dotted in ("encoder.layer", "encoder.layers", "transformer.layer", "layers", "layer"):
        module: Any = model
        for part in dotted.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList):
            return module
    return None


class TextEncoder(nn.Module):
    """Reports (a list of strings) -> one embedding per report, with a transformers model.

    Built from a local folder or a hub id already in the local Hugging Face cache
    (``local_files_only``: nothing is downloaded). A checkpoint of a method holding this encoder
    stores the text model's weights in its state dict and ``name_or_path`` in its config; the
    tokenizer is read again from ``name_or_path`` when the checkpoint is reloaded.

    Args:
        name_or_path: Folder written by ``save_pretrained`` or a cached hub id; ``None`` uses
            :func:`default_text_model` (a tiny random BERT for the embedded default).
        modality: The sample key holding the reports.
        max_length: Reports are truncated to this many tokens.
        pool: ``"cls"`` (the first token's output) or ``"mean"`` over real tokens.
        freeze_layers: Freeze the embeddings and the first ``freeze_layers`` transformer
            layers (0: train everything).

    Raises:
        FileNotFoundError: Naming the folder, when a path-like ``name_or_path`` is missing.
        ValueError: Naming the source, when it is not a loadable transformers checkpoint, or on
            a bad ``pool``, ``max_length`` or ``freeze_layers``.
    """

    reads_text: ClassVar[bool] = True
    """Marks a text encoder (its input is a list of strings), e.g. for zero-shot prompts."""

    def __init__(
        self,
        name_or_path: str | None = None,
        modality: str = "report",
        max_length: int = 128,
        pool: TextPool = "cls",
        freeze_layers: int = 0,
    ) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        source = _resolve(name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model = AutoModel.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(
                f"cannot load a transformers text model from {source!r} "
                f"(a local folder or a hub id already in the local cache): {error}"
            ) from error
        # The pooler head is never used; dropping it keeps unused parameters out of DDP.
        if getattr(model, "pooler", None) is not None:
            model.pooler = None
        self.model = model
        self.name_or_path = name_or_path
        self.modality = modality
        self.pool: TextPool = pool
        limit = getattr(model.config, "max_position_embeddings", None)
        if max_length <= 0 or (isinstance(limit, int) and max_length > limit):
            raise ValueError(f"max_length must be in [1, {limit}] for {source!r}, got {max_length}")
        self.max_length = max_length
        self.freeze_layers = freeze_layers
        self._freeze(freeze_layers, source)
        self.train()

    def _freeze(self, count: int, source: str) -> None:
        if count < 0:
            raise ValueError(f"freeze_layers must be >= 0, got {count}")
        if count == 0:
            return
        layers = _layer_list(self.model)
        if layers is None:
            raise ValueError(f"cannot find the transformer layers of {source!r} to freeze")
        if count > len(layers):
            raise ValueError(
                f"freeze_layers {count} exceeds the {len(layers)} layers of {source!r}"
            )
        embeddings = getattr(self.model, "embeddings", None)
        if not isinstance(embeddings, nn.Module):
            embeddings = self.model.get_input_embeddings()
        for module in [embeddings, *layers[:count]]:
            for param in module.parameters():
                param.requires_grad_(False)

    @property
    def out_dim(self) -> int:
        """Width of the embeddings (the model's hidden size)."""
        return int(self.model.config.hidden_size)

    def tokenize(self, reports: Sequence[str]) -> dict[str, Tensor]:
        """Token ids and attention mask ``[B, L]`` on the module's device.

        Raises:
            TypeError: When ``reports`` is a single string rather than a list of them.
        """
        if isinstance(reports, str):
            raise TypeError("reports must be a list of strings (one per sample), got one str")
        encoded = self.tokenizer(
            list(reports),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        device = next(self.model.parameters()).device
        return {
            "input_ids": encoded["input_ids"].to(device),
            "attention_mask": encoded["attention_mask"].to(device),
        }

    def forward(self, reports: Sequence[str]) -> Tensor:
        """Embed a batch of reports into ``[B, out_dim]``."""
        inputs = self.tokenize(reports)
        hidden = self.model(**inputs).last_hidden_state
        if self.pool == "cls":
            return hidden[:, 0]
        return masked_mean(hidden, inputs["attention_mask"] == 0)
