"""The contract test kit: checks every plugin's tests run for each of their architectures.

```python
from splifft_core.testing import check_architecture

def test_contract():
    check_architecture(MY_SPEC, {"dim": 8, ...})
```
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel

from splifft_core.config import InferenceConfig
from splifft_core.models import ArchitectureSpec, ModelParamsLike
from splifft_core.separator import Separator


def check_params_roundtrip(spec: ArchitectureSpec, params: Mapping[str, Any]) -> BaseModel:
    """Params validate, dump to JSON and validate back to an equal object."""
    parsed = spec.parse_params(params)
    assert isinstance(parsed, ModelParamsLike), (
        f"{spec.name}: params must provide chunk_size, output_stem_names, input_type, "
        "output_type, audio_channels and sample_rate"
    )
    again = spec.params_model.model_validate_json(parsed.model_dump_json())
    assert again == parsed, f"{spec.name}: params do not survive a JSON round trip"
    stems = tuple(parsed.output_stem_names)
    assert stems and len(set(stems)) == len(stems), f"{spec.name}: stems must be unique"
    assert parsed.chunk_size > 0 and parsed.sample_rate > 0 and parsed.audio_channels > 0
    return parsed


def check_forward_shape(separator: Separator, batch_size: int = 2) -> torch.Tensor:
    """`separator.model` maps `(b, c, chunk)` to `(b, stems, c, chunk)`, finite."""
    chunk = separator.chunk_size
    x = torch.randn(
        batch_size, separator.channels, chunk, generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        y: torch.Tensor = separator.model(x.to(separator.device)).float().cpu()
    expected = (batch_size, len(separator.model_stems), separator.channels, chunk)
    assert tuple(y.shape) == expected, (
        f"{separator.spec.name}: forward gave {tuple(y.shape)}, expected {expected}"
    )
    assert torch.isfinite(y).all(), f"{separator.spec.name}: forward output is not finite"
    return y


def check_chunked_run(separator: Separator) -> None:
    """A track shorter than a chunk and one of ~2.5 chunks come back with the right shapes."""
    chunk = separator.chunk_size
    generator = torch.Generator().manual_seed(1)
    for length in (max(1, chunk // 3), chunk * 5 // 2 + 7):
        audio = 0.1 * torch.randn(separator.channels, length, generator=generator)
        stems = separator.separate(audio, sample_rate=separator.sample_rate)
        assert set(stems) == set(separator.stems), f"{separator.spec.name}: stems {set(stems)}"
        for name, value in stems.items():
            assert tuple(value.shape) == (separator.channels, length), (
                f"{separator.spec.name}: stem {name} has shape {tuple(value.shape)}"
            )
            assert torch.isfinite(value).all(), f"{separator.spec.name}: stem {name} not finite"


def check_checkpoint_roundtrip(
    separator: Separator, spec: ArchitectureSpec, params: BaseModel
) -> None:
    """A state dict saved with `torch.save` loads with `weights_only=True` and computes the same."""
    buffer = io.BytesIO()
    torch.save(separator.model.network.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = Separator.from_spec(
        spec, params, state, inference=separator.inference, device=separator.device
    )
    x = torch.randn(
        1, separator.channels, separator.chunk_size, generator=torch.Generator().manual_seed(2)
    )
    with torch.inference_mode():
        a = separator.model(x.to(separator.device)).cpu()
        b = fresh.model(x.to(separator.device)).cpu()
    assert torch.allclose(a, b, atol=1e-6), f"{spec.name}: reloaded weights compute differently"


def check_architecture(
    spec: ArchitectureSpec,
    params: Mapping[str, Any],
    *,
    inference: InferenceConfig | None = None,
) -> None:
    """Run every contract check; `params` should be small so the checks are quick."""
    parsed = check_params_roundtrip(spec, params)
    torch.manual_seed(0)
    separator = Separator.from_spec(
        spec, parsed, None, inference=inference or InferenceConfig(overlap_ratio=0.25), device="cpu"
    )
    with torch.no_grad():
        # Random-initialised weights: give every parameter a non-trivial value so that the
        # checkpoint round trip compares real numbers.
        for tensor in separator.model.network.state_dict().values():
            if tensor.is_floating_point() and tensor.numel() and not tensor.any():
                tensor.normal_(0, 0.02)
    check_forward_shape(separator)
    check_chunked_run(separator)
    check_checkpoint_roundtrip(separator, spec, parsed)
