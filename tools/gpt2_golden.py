#!/usr/bin/python3
"""Golden file for the GPT model (llm.c's test_gpt2 pattern): a tiny GPT-2 in plain PyTorch with fixed weights.

Writes src/test/resources/gpt2_tiny_golden.safetensors (F32/I32, a few hundred KB at most) holding
  config            I32 [5]      n_layer, n_head, n_embd, n_ctx, vocab
  tokens, targets   I32 [B, T]   mask F32 [B, T] (the loss mask, some zeros)
  logits            F32 [B, T, V]
  loss              F32 [1]      −Σ m·log softmax(logits)[target] / Σ m
  param.<hf name>   F32          every parameter in Hugging Face's layout (Conv1D weights [in, out])
  grad.<hf name>    F32          d loss / d parameter, same layout
  adamw.losses      F32 [S]      the loss before each of S steps of torch.optim.AdamW, starting from param.*:
                                 adamw.hparams F32 [5] = lr, beta1, beta2, eps, weight decay (on 2-D tensors only),
                                 gradients clipped by clip_grad_norm_ to adamw.clip F32 [1] before each step
The Java test (GptGoldenTest) loads it and needs no Python. Regenerate with Debian's python3-torch:
  /usr/bin/python3 tools/gpt2_golden.py
"""
import math, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_gpt2_safetensors import save_file  # noqa: E402  (the repository's dependency-free safetensors writer)

L, NH, C, NCTX, V = 2, 2, 16, 8, 11
B, T = 2, 5
STEPS = 10
LR, BETA1, BETA2, EPS, WD, CLIP = 1e-2, 0.9, 0.95, 1e-8, 0.1, 1.0


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.attn_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, NH, C // NH).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(torch.tril(torch.ones(t, t, dtype=torch.bool)).logical_not(), float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).contiguous().view(b, t, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(NCTX, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)

    def forward(self, tokens, targets, mask):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return logits, -(logp * mask).sum() / mask.sum()

    def hf_named(self):
        """(HF name, parameter, is Conv1D) in HF's order."""
        out = [("wte.weight", self.wte.weight, False), ("wpe.weight", self.wpe.weight, False)]
        for i, b in enumerate(self.h):
            p = f"h.{i}."
            out += [(p + "ln_1.weight", b.ln_1.weight, False), (p + "ln_1.bias", b.ln_1.bias, False),
                    (p + "attn.c_attn.weight", b.c_attn.weight, True), (p + "attn.c_attn.bias", b.c_attn.bias, False),
                    (p + "attn.c_proj.weight", b.attn_proj.weight, True), (p + "attn.c_proj.bias", b.attn_proj.bias, False),
                    (p + "ln_2.weight", b.ln_2.weight, False), (p + "ln_2.bias", b.ln_2.bias, False),
                    (p + "mlp.c_fc.weight", b.c_fc.weight, True), (p + "mlp.c_fc.bias", b.c_fc.bias, False),
                    (p + "mlp.c_proj.weight", b.mlp_proj.weight, True), (p + "mlp.c_proj.bias", b.mlp_proj.bias, False)]
        return out + [("ln_f.weight", self.ln_f.weight, False), ("ln_f.bias", self.ln_f.bias, False)]


def hf(t, conv1d):
    return (t.detach().t() if conv1d else t.detach()).contiguous().clone()


def adamw_golden(out, model, params, loss_of, steps):
    """Runs `steps` steps of torch.optim.AdamW (decay on 2-D tensors only, clip_grad_norm_ before each) from the
    current weights; puts adamw.losses (the loss before each step), adamw.hparams and adamw.clip into `out`."""
    decay = [p for p in params if p.dim() == 2]
    other = [p for p in params if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": other, "weight_decay": 0.0}],
                            lr=LR, betas=(BETA1, BETA2), eps=EPS)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        losses.append(loss.item())
    out["adamw.losses"] = torch.tensor(losses, dtype=torch.float32)
    out["adamw.hparams"] = torch.tensor([LR, BETA1, BETA2, EPS, WD], dtype=torch.float32)
    out["adamw.clip"] = torch.tensor([CLIP], dtype=torch.float32)
    return losses


def main():
    torch.manual_seed(1234)
    model = Gpt()
    with torch.no_grad():  # weights big enough that every nonlinearity matters
        for name, p, _ in model.hf_named():
            if p.dim() == 2:
                p.normal_(0.0, 0.3)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.1)
    tokens = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    mask = (torch.rand(B, T) < 0.7).float()
    mask[0, 0], mask[1, T - 1] = 1.0, 0.0

    out = {"config": torch.tensor([L, NH, C, NCTX, V], dtype=torch.int32),
           "tokens": tokens.int(), "targets": targets.int(), "mask": mask}
    for name, p, conv in model.hf_named():
        out["param." + name] = hf(p, conv)
    logits, loss = model(tokens, targets, mask)
    loss.backward()
    out["logits"] = logits.detach().contiguous()
    out["loss"] = loss.detach().reshape(1)
    for name, p, conv in model.hf_named():
        out["grad." + name] = hf(p.grad, conv)

    losses = adamw_golden(out, model, [p for _, p, _ in model.hf_named()], lambda: model(tokens, targets, mask)[1], STEPS)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources",
                        "gpt2_tiny_golden.safetensors")
    save_file(out, os.path.normpath(path), {"format": "pt", "source": "tools/gpt2_golden.py", "torch": torch.__version__})
    print(f"wrote {os.path.normpath(path)}: loss {out['loss'].item():.6f}, adamw losses {[round(x, 5) for x in losses]}")


if __name__ == "__main__":
    main()
