#!/usr/bin/python3
"""How exact is "store the weights in bf16 (or f16), compute in fp32"? Measured on real trained weights:
stories260K (../shared/models/stories260K, a Llama-architecture model trained on TinyStories, with llama2.c's
reference greedy continuation and log-probs in reference_greedy.json), run by the plain-PyTorch Llama of
tools/llama_golden.py.

  /usr/bin/python3 bench/bf16_exactness.py [--model ../shared/models/stories260K]

1. fp32 sanity: the reference continuation's log-probs against llama2.c's (should agree to ~1e-5).
2. GEMM relative error ||X·Ŵᵀ − X·Wᵀ|| / ||X·Wᵀ|| (Frobenius, in float64) for every linear layer, with X the real
   activations entering it: Ŵ = W rounded to bf16 / f16 (X fp32: bf16 storage, fp32 compute), and also X rounded to
   bf16 (what sbgemm or torch's bf16 matmul computes); next to it the error of the fp32 GEMM itself.
3. Log-probs: every tensor of the checkpoint rounded to bf16 (as a bf16 checkpoint stores them), computed in fp32,
   on the reference continuation: max and mean |Δ log p| against the fp32 weights, the sequence log-prob's change,
   and whether greedy decoding from BOS still produces the same 64 ids; then also every GEMM input rounded to bf16
   (sbgemm's arithmetic, attention and norms still fp32).
"""
import argparse, json, math, os, sys
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from llama_golden import Model  # noqa: E402  (plain-PyTorch Llama written from the definition)
from check_hf_checkpoint import read_safetensors  # noqa: E402  (a safetensors reader from the format's definition)


def load(folder):
    c = json.load(open(os.path.join(folder, "config.json")))
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    _, ts = read_safetensors(os.path.join(folder, "model.safetensors"), require_pt=False)
    m = Model(c)
    with torch.no_grad():
        for name, p in m.hf_named():
            p.copy_(ts[name][1].float())
    return c, m, {n: t.float() for n, (_, t) in ts.items()}


def set_weights(m, weights, dtype):
    with torch.no_grad():
        for name, p in m.hf_named():
            w = weights[name]
            p.copy_(w if dtype is None else w.to(dtype).float())


def logprobs(m, tokens, targets):
    with torch.no_grad():
        logits, _ = m(tokens, targets, torch.ones_like(targets, dtype=torch.float32))
        return logits.double().log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)[0]


def greedy(m, steps):
    ids = [1]
    with torch.no_grad():
        for _ in range(steps):
            t = torch.tensor([ids])
            logits, _ = m(t, t, torch.ones(1, len(ids)))
            ids.append(int(logits[0, -1].argmax()))
    return ids[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(HERE, "..", "..", "shared", "models", "stories260K"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    c, m, weights = load(a.model)
    ref = json.load(open(os.path.join(a.model, "reference_greedy.json")))
    cont = ref["greedy_continuation"]
    tokens = torch.tensor([[1] + cont[:-1]])
    targets = torch.tensor([cont])
    lp32 = logprobs(m, tokens, targets)
    d = (lp32 - torch.tensor(ref["logprob_of_each"], dtype=torch.float64)).abs()
    print(f"model {os.path.normpath(a.model)}: {sum(w.numel() for w in weights.values())} parameters, "
          f"{len(cont)} reference tokens")
    print(f"1. fp32 vs llama2.c's reference log-probs: max |Δ| {d.max():.2e} (the reference prints 6 decimals)")

    # 2. every linear layer's GEMM on its real input
    inputs = {}
    hooks = []
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Linear):
            hooks.append(mod.register_forward_pre_hook(lambda mod, inp, name=name: inputs.__setitem__(name, inp[0].detach())))
    logprobs(m, tokens, targets)
    for h in hooks:
        h.remove()
    head = m.embed_tokens.weight if c["tie_word_embeddings"] else m.lm_head.weight
    with torch.no_grad():
        xf = m.norm(inputs_final(m, tokens))
    rows = []
    for name, mod in list(m.named_modules()):
        if isinstance(mod, torch.nn.Linear):
            rows.append((name, inputs[name].reshape(-1, mod.in_features), mod.weight.detach()))
    rows.append(("lm_head (tied)" if c["tie_word_embeddings"] else "lm_head", xf.reshape(-1, xf.shape[-1]), head.detach()))

    def rel(x, w, xdt, wdt):
        exact = x.double() @ w.double().t()
        xq = x if xdt is None else x.to(xdt).float()
        wq = w if wdt is None else w.to(wdt).float()
        got = (xq.double() @ wq.double().t()) if wdt is not None or xdt is not None else (x @ w.t()).double()
        return ((got - exact).norm() / exact.norm()).item()

    kinds = {}
    for name, x, w in rows:
        kind = name.split(".")[-1]
        r = (rel(x, w, None, None), rel(x, w, None, torch.bfloat16), rel(x, w, torch.bfloat16, torch.bfloat16),
             rel(x, w, None, torch.float16))
        kinds.setdefault(kind, []).append(r)
    print("2. GEMM relative error ||X·Ŵᵀ − X·Wᵀ|| / ||X·Wᵀ|| on the real activations (median over layers; max):")
    print("| linear | fp32 GEMM itself | W bf16, X fp32 | W and X bf16 (sbgemm) | W f16, X fp32 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind, rs in kinds.items():
        cols = []
        for j in range(4):
            v = sorted(r[j] for r in rs)
            cols.append(f"{v[len(v) // 2]:.2e} ({v[-1]:.2e})")
        print(f"| {kind} ×{len(rs)} | " + " | ".join(cols) + " |")

    # 3. log-probs with every tensor stored in bf16 / f16, computed in fp32
    print("3. log-probs of the reference continuation, every weight rounded, fp32 compute:")
    print("| weights | max abs dlogp | mean abs dlogp | sequence log-prob change | greedy ids from BOS |")
    print("| --- | ---: | ---: | ---: | --- |")
    g32 = greedy(m, len(cont))
    same = "same as llama2.c" if g32 == cont else "DIFFERS from llama2.c"
    print(f"| fp32 | 0 | 0 | 0 (sum {lp32.sum():.4f}) | {same} |")
    for label, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        set_weights(m, weights, dt)
        lp = logprobs(m, tokens, targets)
        dd = (lp - lp32).abs()
        g = greedy(m, len(cont))
        first = next((i for i, (u, v) in enumerate(zip(g, cont)) if u != v), None)
        ids = "all 64 the same" if first is None else f"first differs at step {first}"
        print(f"| {label} | {dd.max():.2e} | {dd.mean():.2e} | {(lp.sum() - lp32.sum()):+.2e} | {ids} |")
        set_weights(m, weights, None)
    # sbgemm's arithmetic: bf16 weights and every GEMM input (linear layers and the LM head) rounded to bf16,
    # products and sums in fp32; attention, norms and softmax stay fp32
    set_weights(m, weights, torch.bfloat16)
    to_bf16 = lambda t: t.to(torch.bfloat16).float()
    hooks = [mod.register_forward_pre_hook(lambda mod, inp: (to_bf16(inp[0]),))
             for mod in m.modules() if isinstance(mod, torch.nn.Linear)]
    hooks.append(m.norm.register_forward_hook(lambda mod, inp, out: to_bf16(out)))
    lp = logprobs(m, tokens, targets)
    dd = (lp - lp32).abs()
    g = greedy(m, len(cont))
    first = next((i for i, (u, v) in enumerate(zip(g, cont)) if u != v), None)
    ids = "all 64 the same" if first is None else f"first differs at step {first}"
    print(f"| bf16 W and bf16 GEMM inputs (sbgemm) | {dd.max():.2e} | {dd.mean():.2e} | {(lp.sum() - lp32.sum()):+.2e} | {ids} |")
    for h in hooks:
        h.remove()
    set_weights(m, weights, None)


def inputs_final(m, tokens):
    """The residual stream before the final norm (what the LM head's input is built from)."""
    c = m.c
    D = c["head_dim"]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    angle = torch.arange(tokens.shape[1], dtype=torch.float64)[:, None] * inv_freq[None, :]
    angle = torch.cat((angle, angle), dim=-1)
    cos, sin = angle.cos().float(), angle.sin().float()
    x = m.embed_tokens(tokens)
    for layer in m.layers:
        x = layer(x, cos, sin)
    return x


if __name__ == "__main__":
    main()
