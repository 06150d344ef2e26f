"""`splifft.load("bs_roformer-lu-viperx")` downloads, verifies and separates, against a stand-in Hub
serving a checkpoint of that model's exact shape (random weights; the digest is overridden in a
test-local manifest, since the real file cannot be fetched here)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import splifft_plugin_roformer
import torch

from splifft_core.plugins import PluginHost
from splifft_core.registry import load_registry
from tests.hub_server import StandInHub, sha256, write_user_manifest

IDENTIFIER = "bs_roformer-lu-viperx"


def test_viperx_downloads_verifies_and_separates(
    hub: StandInHub, plugin_host: Callable[..., PluginHost]
) -> None:
    host = plugin_host(splifft_plugin_roformer)
    builtin = load_registry(host).get(IDENTIFIER).manifest
    spec = host.architecture(builtin.architecture)
    params = spec.parse_params(builtin.params)

    torch.manual_seed(0)
    reference = spec.build_model(params).eval()
    # float16 on disk (as many community checkpoints are): half the bytes, the exact shapes
    state = {k: v.half() if v.is_floating_point() else v for k, v in reference.state_dict().items()}
    reference.load_state_dict({k: v.float() for k, v in state.items()})
    buffer = io.BytesIO()
    torch.save({"state_dict": state}, buffer)  # MSST-style container, unwrapped by the core
    content = buffer.getvalue()
    del buffer, state
    assert sum(p.numel() for p in reference.parameters()) > 50_000_000  # the real size

    resource = builtin.resources[0]
    assert resource.kind == "hf"
    commit = hub.commit(resource.repo_id, {resource.filename: content})
    local = json.loads(builtin.model_dump_json())
    local["overrides"] = True
    local["resources"][0].update(revision=commit, sha256=sha256(content))
    write_user_manifest(local)
    del content

    import splifft

    separator = splifft.load(IDENTIFIER, device="cpu", chunk_size=22050, batch_size=2)
    assert hub.count("GET", "") >= 1  # it was downloaded, not found somewhere else
    audio = 0.1 * torch.randn(2, 22050, generator=torch.Generator().manual_seed(1))
    stems = separator.separate(audio, sample_rate=44100)
    assert set(stems) == {"vocals", "instrum"}
    assert stems["vocals"].shape == audio.shape
    torch.testing.assert_close(stems["instrum"], audio - stems["vocals"], atol=1e-5, rtol=0)

    # the downloaded weights are the ones the model computes with
    chunk = audio[None, :, :22050]
    with torch.inference_mode():
        expected = reference(chunk)
        got = separator.model(chunk)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
