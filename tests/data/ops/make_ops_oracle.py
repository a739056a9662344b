# Writes ops_oracle.json: values computed by Hugging Face transformers' own
# code (modeling_rope_utils, each model's RotaryEmbedding / apply_rotary_pos_emb,
# eager_attention_forward, GptOssExperts._apply_gate, RMSNorm classes) and torch,
# so that pocketllm's f32 ops are checked against an implementation nobody here
# wrote. Run with transformers 5.17 / torch 2.11:
#   python3 make_ops_oracle.py rope_configs.json > ops_oracle.json
import importlib
import json
import math
import sys
import types

import torch
import transformers
from torch import nn

torch.manual_seed(1234)
cfgs = json.load(open(sys.argv[1]))
out = {"transformers": transformers.__version__, "torch": torch.__version__, "rope": {}}


def flist(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def modeling_module(model_type):
    return importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")


POSITIONS = [0, 1, 7, 100, 4097]

for name, cfg in cfgs.items():
    model_type = cfg["model_type"]
    config = transformers.AutoConfig.for_model(model_type, **{k: v for k, v in cfg.items() if k != "model_type"})
    pkg = model_type.replace("_text", "")
    mod = modeling_module(pkg)
    rot_cls = [getattr(mod, n) for n in dir(mod) if n.endswith("RotaryEmbedding") and "Pretrained" not in n][0]
    rot = rot_cls(config)
    entry = {"class": rot_cls.__name__, "inv_freq": {}, "attention_scaling": {}}
    for bname, buf in rot.named_buffers():
        if bname.endswith("inv_freq") and not bname.endswith("original_inv_freq"):
            entry["inv_freq"][bname] = flist(buf.float())
    for aname in dir(rot):
        if aname.endswith("attention_scaling"):
            entry["attention_scaling"][aname] = float(getattr(rot, aname))
    # Rotation of a random q by the model's own apply_rotary_pos_emb.
    head_dim = len(next(iter(entry["inv_freq"].values()))) * 2
    full_dim = getattr(config, "qk_rope_head_dim", None) or getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    try:
        q = torch.randn(1, 1, len(POSITIONS), full_dim)
        pos = torch.tensor([POSITIONS])
        try:
            emb = rot(q, pos)
        except TypeError:  # Gemma 3: one rotary module, a frequency set per layer type
            emb = rot(q, pos, "full_attention")
        if not isinstance(emb, tuple):  # DeepSeek-V2: complex freqs_cis, interleaved pairs
            qe, _ = mod.apply_rotary_emb(q, q.clone(), emb)
        else:
            cos, sin = emb
            try:
                qe, _ = mod.apply_rotary_pos_emb(q, q.clone(), cos, sin)
            except RuntimeError:  # a module that rotates only the first dims itself
                qe, _ = mod.apply_rotary_pos_emb(q[..., :head_dim], q[..., :head_dim].clone(), cos, sin)
        if qe.shape[-1] < full_dim:
            qe = torch.cat([qe, q[..., qe.shape[-1]:]], dim=-1)
        entry["rotate"] = {"positions": POSITIONS, "head_dim": full_dim, "rotary_dims": head_dim,
                           "q": flist(q), "q_rotated": flist(qe)}
    except Exception as e:  # recorded, not fatal: some modules rotate elsewhere
        entry["rotate_error"] = repr(e)
    out["rope"][name] = entry

# Activations at fixed points, float64.
pts = torch.tensor([-20.0, -7.5, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 3.0, 7.5, 20.0], dtype=torch.float64)
out["activations"] = {
    "x": flist(pts),
    "silu": flist(nn.functional.silu(pts)),
    "gelu_tanh": flist(nn.functional.gelu(pts, approximate="tanh")),
    "sigmoid": flist(torch.sigmoid(pts)),
}

# gpt-oss clamped SwiGLU: GptOssExperts._apply_gate on interleaved [gate, up].
go = modeling_module("gpt_oss")
gate_up = (torch.randn(1, 2 * 24) * 5.0).float()
gate_up[0, 0] = 9.0; gate_up[0, 1] = -9.0; gate_up[0, 2] = -9.0; gate_up[0, 3] = 9.0
dummy = types.SimpleNamespace(alpha=1.702, limit=7.0)
out["gptoss_gate"] = {"gate_up_interleaved": flist(gate_up),
                      "out": flist(go.GptOssExperts._apply_gate(dummy, gate_up))}

# Norms (float32 as in the models).
x = torch.randn(1, 37).float() * 3 + 0.5
w = torch.randn(37).float() * 0.5
b = torch.randn(37).float() * 0.5
llama = modeling_module("llama").LlamaRMSNorm(37, eps=1e-5)
llama.weight.data = w.clone()
gemma = modeling_module("gemma3").Gemma3RMSNorm(37, eps=1e-6)
gemma.weight.data = w.clone()
ln = nn.LayerNorm(37, eps=1e-5)
ln.weight.data = w.clone(); ln.bias.data = b.clone()
with torch.no_grad():
    out["norms"] = {"x": flist(x), "weight": flist(w), "bias": flist(b),
                    "rms_llama_eps1e-5": flist(llama(x)), "rms_gemma_eps1e-6": flist(gemma(x)),
                    "layernorm_eps1e-5": flist(ln(x))}

# Softmax with sinks (gpt-oss eager attention) and soft-cap (Gemma 2): with
# key = value = identity and scaling 1, attention output = the probabilities.
n_keys = 11
logits = torch.randn(1, 2, 1, n_keys).float() * 3
eye = torch.eye(n_keys).reshape(1, 1, n_keys, n_keys).expand(1, 2, n_keys, n_keys).float()
sinks = torch.tensor([0.7, -1.3]).float()
m = types.SimpleNamespace(num_key_value_groups=1, sinks=sinks, training=False, head_dim=n_keys)
with torch.no_grad():
    p_sink, _ = go.eager_attention_forward(m, logits, eye, eye, None, 1.0)
    g2 = modeling_module("gemma2")
    p_cap, _ = g2.eager_attention_forward(m, logits, eye, eye, None, scaling=1.0, softcap=2.5)
out["softmax"] = {"logits": flist(logits), "sinks": flist(sinks), "softcap": 2.5,
                  "probs_with_sinks": flist(p_sink), "probs_softcap": flist(p_cap),
                  "probs_plain": flist(torch.softmax(logits.double(), -1))}

json.dump(out, sys.stdout, indent=1)
