#!/usr/bin/python3
"""PyTorch peer of LlamaTrainBench and LlamaGenerateBench: a Llama-family model written from the architecture's
definition (Hugging Face's modeling_llama, eager attention: RMSNorm, rotate-half RoPE, grouped-query attention by
repeat_kv, explicit causal softmax, SwiGLU MLP, tied or untied head), random weights (N(0, 0.02), norms 1), the
same shapes as the align4j benches. torch 1.13 has no scaled_dot_product_attention, so eager attention is what
Hugging Face's model would run on it too.

  train: forward with the mean cross-entropy loss, backward, clip_grad_norm_(1.0), AdamW (decay on 2-D tensors);
         median step time after warm-up; tokens/s = B·T / step.
  gen:   greedy generation with a preallocated key/value cache per layer ([B, KV, maxT, D], Hugging Face's
         StaticCache pattern: no torch.cat per step), under inference_mode; prefill of the prompt, then one token
         per step; decode tokens/s = B·new / decode time.
Peak memory: the process's peak RSS (ru_maxrss) before the first step and after the last, and torch.profiler-free
accounting of the parameters, gradients and AdamW moments (4 bytes each).

Prints the matmul GFLOP/s of torch on a 2048³ product and on the model's MLP shape first (DESIGN.md: the peer is
only fair with an optimised BLAS), then one "RESULT {json}" line per measurement for bench/llama_summary.py.

  /usr/bin/python3 bench/torch_llama_peer.py train [--B 4 --T 512 --steps 3 --warmup 1 --threads 2] [--profile]
  /usr/bin/python3 bench/torch_llama_peer.py gen [--B 1 --prompt 64 --new 128 --threads 2]
The model shape defaults to SmolLM2-135M (30 layers, 576 wide, 9 heads, 3 KV heads, FFN 1536, vocab 49152, tied);
--layers/--hidden/... change it.
"""
import argparse, json, math, os, resource, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class RmsNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, n):
    """[B, KV, T, D] -> [B, KV·n, T, D]: query head i reads key/value head i // n (modeling_llama's repeat_kv)."""
    if n == 1:
        return x
    b, kv, t, d = x.shape
    return x[:, :, None, :, :].expand(b, kv, n, t, d).reshape(b, kv * n, t, d)


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.h, self.kv, self.d = a.heads, a.kv_heads, a.hidden // a.heads
        C, F_ = a.hidden, a.ffn
        self.input_layernorm = RmsNorm(C, a.eps)
        self.q_proj = nn.Linear(C, self.h * self.d, bias=False)
        self.k_proj = nn.Linear(C, self.kv * self.d, bias=False)
        self.v_proj = nn.Linear(C, self.kv * self.d, bias=False)
        self.o_proj = nn.Linear(self.h * self.d, C, bias=False)
        self.post_attention_layernorm = RmsNorm(C, a.eps)
        self.gate_proj = nn.Linear(C, F_, bias=False)
        self.up_proj = nn.Linear(C, F_, bias=False)
        self.down_proj = nn.Linear(F_, C, bias=False)

    def forward(self, x, cos, sin, cache=None, start=0):
        """x [B, t, C] at positions start..start+t (cos/sin already sliced to them). With cache = (K, V), each
        [B, KV, maxT, D], the new keys/values are written at slots [start, start + t) and attention reads [0, start + t)."""
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.h, self.d).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            kc, vc = cache
            kc[:, :, start:start + t] = k
            vc[:, :, start:start + t] = v
            k, v = kc[:, :, :start + t], vc[:, :, :start + t]
        tk = k.shape[2]
        g = self.h // self.kv
        k, v = repeat_kv(k, g), repeat_kv(v, g)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.d)
        if t > 1:  # causal: query i (position start + i) sees keys 0 .. start + i
            mask = torch.ones(t, tk, dtype=torch.bool).triu(start + 1)
            att = att.masked_fill(mask, float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, self.h * self.d)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList(Layer(a) for _ in range(a.layers))
        self.norm = RmsNorm(a.hidden, a.eps)
        self.lm_head = None if a.tied else nn.Linear(a.hidden, a.vocab, bias=False)
        for p in self.parameters():  # Hugging Face's _init_weights: N(0, 0.02) weights; RMSNorm weights stay 1
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        d = a.hidden // a.heads
        self.inv_freq = 1.0 / (a.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))

    def rope(self, start, t):
        angle = torch.arange(start, start + t, dtype=torch.float64)[:, None] * self.inv_freq[None, :]
        angle = torch.cat((angle, angle), dim=-1)
        return angle.cos().float(), angle.sin().float()

    def head(self, x):
        w = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return self.norm(x) @ w.t()

    def forward(self, idx, caches=None, start=0):
        cos, sin = self.rope(start, idx.shape[1])
        x = self.embed_tokens(idx)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i], start)
        return x

    def loss(self, idx, targets):
        logits = self.head(self(idx))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def matmul_gflops(m, n, k, reps=5):
    """(wall, cpu) GFLOP/s of x·Wᵀ (M×K times (N×K)ᵀ, nn.Linear's product), best of reps; cpu over the process's
    CPU time, which other work on a shared machine does not inflate."""
    a, w = torch.randn(m, k), torch.randn(n, k)
    a @ w.t()
    best = best_cpu = float("inf")
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        a @ w.t()
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    f = 2.0 * m * n * k / 1e9
    return f / best, f / max(best_cpu, 1e-9)


class LoraLinear(nn.Module):
    """PEFT's LoRA on a frozen nn.Linear, re-typed (no peft here): y = base(x) + s·(x·Aᵀ)·Bᵀ, A Kaiming-uniform, B zero."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.s = base, alpha / r
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.s


def add_lora(model, r):
    """Freezes every weight and wraps every linear module of the layers (all-linear; not the head), alpha 2r."""
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.layers:
        for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
            setattr(layer, name, LoraLinear(getattr(layer, name), r, 2 * r))


def emit(d):
    print("RESULT " + json.dumps(d), flush=True)


def train(a, model):
    n_params = sum(p.numel() for p in model.parameters())
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in trainable)
    decay = [p for p in trainable if p.dim() == 2]
    other = [p for p in trainable if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, a.vocab, (a.B, a.T), generator=g)
    tgt = torch.randint(0, a.vocab, (a.B, a.T), generator=g)
    times, fwd, bwd, upd, cpu, cf, cb, cu = [], [], [], [], [], [], [], []
    for s in range(a.warmup + a.steps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(idx, tgt)
        t1, c1 = time.perf_counter(), time.process_time()
        loss.backward()
        t2, c2 = time.perf_counter(), time.process_time()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        t3, c3 = time.perf_counter(), time.process_time()
        c = c3 - c0  # the whole process: every thread's CPU time
        print(f"step {s}: loss {loss.item():.4f}, {(t3 - t0) * 1e3:.0f} ms (forward {(t1 - t0) * 1e3:.0f}, "
              f"backward {(t2 - t1) * 1e3:.0f}, clip+AdamW {(t3 - t2) * 1e3:.0f}), CPU {c * 1e3:.0f} ms", flush=True)
        if s >= a.warmup:
            times.append(t3 - t0); fwd.append(t1 - t0); bwd.append(t2 - t1); upd.append(t3 - t2); cpu.append(c)
            cf.append(c1 - c0); cb.append(c2 - c1); cu.append(c3 - c2)
    if a.profile:  # one more step under torch.profiler: self CPU time per op
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            opt.zero_grad(set_to_none=True)
            model.loss(idx, tgt).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), flush=True)
    med = statistics.median(times)
    emit(dict(bench="train", impl="pytorch" + (f"-lora{a.lora_r}" if a.lora_r else ""), trainable_params=n_train, B=a.B, T=a.T, threads=torch.get_num_threads(), params=n_params,
              step_ms=[x * 1e3 for x in times], median_ms=med * 1e3, tokens_per_s=a.B * a.T / med,
              forward_ms=statistics.median(fwd) * 1e3, backward_ms=statistics.median(bwd) * 1e3,
              update_ms=statistics.median(upd) * 1e3, cpu_ms=[x * 1e3 for x in cpu],
              median_cpu_ms=statistics.median(cpu) * 1e3, cpu_forward_ms=statistics.median(cf) * 1e3,
              cpu_backward_ms=statistics.median(cb) * 1e3, cpu_update_ms=statistics.median(cu) * 1e3,
              state_bytes=4 * n_params + 12 * n_train, rss_before_mb=a.rss_before_mb, peak_rss_mb=peak_rss_mb()))


@torch.inference_mode()
def generate(a, model):
    d = a.hidden // a.heads
    max_t = a.prompt + a.new
    caches = [(torch.zeros(a.B, a.kv_heads, max_t, d), torch.zeros(a.B, a.kv_heads, max_t, d)) for _ in model.layers]
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, a.vocab, (a.B, a.prompt), generator=g)
    runs = []
    for r in range(a.warmup + a.reps):
        new = min(8, a.new) if r < a.warmup else a.new  # warm-up runs: a short generation
        c0, t0 = time.process_time(), time.perf_counter()
        x = model(prompt, caches, 0)
        nxt = model.head(x[:, -1:]).argmax(-1)      # [B, 1]
        t1, c1 = time.perf_counter(), time.process_time()
        out = [nxt]
        for s in range(1, new):                    # the first new token came from the prefill
            x = model(nxt, caches, a.prompt + s - 1)
            nxt = model.head(x).argmax(-1)
            out.append(nxt)
        t2, c2 = time.perf_counter(), time.process_time()
        ids = torch.cat(out, dim=1)
        print(f"run {r}: prefill {(t1 - t0) * 1e3:.0f} ms (CPU {(c1 - c0) * 1e3:.0f}), {new - 1} decode steps "
              f"{(t2 - t1) * 1e3:.0f} ms (CPU {(c2 - c1) * 1e3:.0f}; {a.B * (new - 1) / (t2 - t1):.1f} tokens/s), "
              f"first ids {ids[0, :8].tolist()}", flush=True)
        if r >= a.warmup:
            runs.append((t1 - t0, t2 - t1, c1 - c0, c2 - c1))
    pre = statistics.median(x[0] for x in runs)
    dec = statistics.median(x[1] for x in runs)
    emit(dict(bench="gen", impl="pytorch", B=a.B, prompt=a.prompt, new=a.new, threads=torch.get_num_threads(),
              prefill_ms=pre * 1e3, decode_ms=dec * 1e3, decode_tokens_per_s=a.B * (a.new - 1) / dec,
              total_tokens_per_s=a.B * a.new / (pre + dec), peak_rss_mb=peak_rss_mb(),
              prefill_cpu_ms=statistics.median(x[2] for x in runs) * 1e3,
              decode_cpu_ms=statistics.median(x[3] for x in runs) * 1e3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "gen"])
    for k, d in [("layers", 30), ("hidden", 576), ("heads", 9), ("kv_heads", 3), ("ffn", 1536), ("vocab", 49152),
                 ("B", 4), ("T", 512), ("steps", 3), ("warmup", 1), ("prompt", 64), ("new", 128), ("reps", 1),
                 ("threads", os.cpu_count())]:
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=d)
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--untied", dest="tied", action="store_false")
    ap.add_argument("--lora-r", type=int, default=0, help="train: LoRA adapters of rank r (alpha 2r) on every linear module of "
                    "the layers, the base frozen (as LlamaTrainBench --lora-r)")
    ap.add_argument("--profile", action="store_true", help="train: one more step under torch.profiler, ops by self CPU time")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = a.B * a.T if a.mode == "train" else a.B
    sq = matmul_gflops(2048, 2048, 2048)
    mlp = matmul_gflops(rows, 2 * a.ffn, a.hidden)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: fp32 matmul 2048³ {sq[0]:.0f} GFLOP/s "
          f"({sq[1]:.0f} per CPU-second), {rows}×{2 * a.ffn}×{a.hidden} (gate|up) {mlp[0]:.0f} GFLOP/s "
          f"({mlp[1]:.0f} per CPU-second)", flush=True)
    emit(dict(bench="sgemm", impl="pytorch", threads=torch.get_num_threads(), square_gflops=sq[0],
              square_gflops_cpu=sq[1], mlp_gflops=mlp[0], mlp_gflops_cpu=mlp[1]))
    a.rss_before_mb = rss_mb()  # the interpreter and torch, before the model exists
    torch.manual_seed(1)
    model = Llama(a)
    if a.mode == "train":
        if a.lora_r:
            add_lora(model, a.lora_r)
        train(a, model)
    else:
        generate(a, model)


if __name__ == "__main__":
    main()
