using System.Diagnostics;
using UltraMem.Architectures;
using UltraMem.Layers;
using UltraMem.Model;
using static TorchSharp.torch;

// Where one decode step's time goes, op group by op group, for one member of a matched family (issue notes, docs/results.md §1).
// DECODE_THREADS=N sets libtorch's intra-op threads (default: all cores).
// Usage: dotnet run -c Release --project bench/DecodeProfile -- [preset] [arch] [batch] [kv]   (defaults: small dense 1 512)
// Each part runs alone on inputs of the step's shapes, median of 50 after 10 warm-up, under no_grad like the decode benchmark.
string preset = args.Length > 0 ? args[0] : "small";
string arch = args.Length > 1 ? args[1] : "dense";
int batch = args.Length > 2 ? int.Parse(args[2]) : 1;
int kv = args.Length > 3 ? int.Parse(args[3]) : 512;
set_num_threads(Environment.GetEnvironmentVariable("DECODE_THREADS") is { } t ? int.Parse(t) : Environment.ProcessorCount);
manual_seed(1);
var config = Families.Matched(ModelConfig.Preset(preset, 8192), arch) with { MaxSeqLen = kv + 1, Dropout = 0 };
using var model = new TransformerLM(config);
model.eval();
using var noGrad = no_grad();
var c = model.Config;
double Time(Action a, int reps = 50)
{
    for (int i = 0; i < 10; i++)
        a();
    var ts = new List<double>();
    for (int i = 0; i < reps; i++)
    {
        var sw = Stopwatch.StartNew();
        a();
        ts.Add(sw.Elapsed.TotalMilliseconds);
    }
    ts.Sort();
    return ts[ts.Count / 2];
}
var x = randn(batch, 1, c.DModel);
var block = model.layers[0];
var rope = new RotaryEmbedding(c.HeadDim, c.MaxSeqLen, c.RopeTheta);
var cache = new AttentionCache(batch, c.NHeads, kv + 1, c.HeadDim, ScalarType.Float32);
var tokens = randint(0, c.VocabSize, new long[] { batch, 1 });
using var decodeCache = new DecodeCache(model, batch);

// fill the cache to kv positions once
using (var prompt = randint(0, c.VocabSize, new long[] { batch, kv }))
using (model.Forward(prompt, decodeCache)) { }
var parts = new List<(string, double)>
{
    (
        "whole step (model.Forward, cache rewound)",
        Time(() =>
        {
            decodeCache.Rewind(kv);
            using var _ = model.Forward(tokens, decodeCache, lastPositionOnly: true);
        })
    ),
    (
        "manual loop: blocks + head, no model.Forward",
        Time(() =>
        {
            using var scope = NewDisposeScope();
            var h = model.embed_tokens.forward(tokens);
            for (int i = 0; i < c.NLayers; i++)
            {
                var blk = model.layers[i];
                h = h + blk.self_attn.Forward(blk.input_layernorm.forward(h), rope, decodeCache.Attention[i], kv);
                var xx = blk.post_attention_layernorm.forward(h);
                if (blk.mlp is not null)
                    h = h + blk.mlp.forward(xx);
            }
            var logits = nn.functional.linear(model.norm.forward(h), model.embed_tokens.weight!);
        })
    ),
    (
        "embedding lookup",
        Time(() =>
        {
            using var _ = model.embed_tokens.forward(tokens);
        })
    ),
    (
        "RMSNorm (one)",
        Time(() =>
        {
            using var _ = block.input_layernorm.forward(x);
        })
    ),
    (
        "attention (one block, cache at kv)",
        Time(() =>
        {
            using var _ = block.self_attn.Forward(x, rope, cache, kv);
        })
    ),
    (
        "  q/k/v/o projections (4 linears)",
        Time(() =>
        {
            using var a = block.self_attn.q_proj.forward(x);
            using var b = block.self_attn.k_proj.forward(x);
            using var d = block.self_attn.v_proj.forward(x);
            using var e = block.self_attn.o_proj.forward(x);
        })
    ),
    (
        "  RoPE (one tensor)",
        Time(() =>
        {
            using var h = x.view(batch, 1, c.NHeads, c.HeadDim).transpose(1, 2);
            using var _ = rope.Apply(h, kv);
        })
    ),
    (
        "  SDPA, 1 query over kv+1 keys",
        Time(() =>
        {
            using var q = randn(batch, c.NHeads, 1, c.HeadDim);
            using var _ = nn.functional.scaled_dot_product_attention(q, cache.Keys, cache.Values);
        })
    ),
    (
        "FFN / slot of block 0",
        block.mlp is null
            ? double.NaN
            : Time(() =>
            {
                using var _ = block.mlp.forward(x);
            })
    ),
    (
        "FFNs of all blocks in sequence (weights from DRAM)",
        Time(() =>
        {
            for (int i = 0; i < c.NLayers; i++)
            {
                using var _ = model.layers[i].mlp!.forward(x);
            }
        })
    ),
    (
        "attention of all blocks in sequence",
        Time(() =>
        {
            for (int i = 0; i < c.NLayers; i++)
            {
                using var _ = model.layers[i].self_attn.Forward(x, rope, decodeCache.Attention[i], kv);
            }
        })
    ),
    (
        "output head (tied, last position)",
        Time(() =>
        {
            using var h = model.norm.forward(x);
            using var _ = nn.functional.linear(h, model.embed_tokens.weight!);
        })
    ),
};
{
    // 48 distinct 1024 x 384 matrices (75 MB, more than any cache): true DRAM streaming
    var cold = Enumerable.Range(0, 48).Select(_ => randn(1024, c.DModel)).ToArray();
    var x1 = randn(1, c.DModel);
    double mb = cold.Sum(w => w.numel()) * 4 / 1e6;
    double t1 = Time(
        () =>
        {
            foreach (var w in cold)
            {
                using var _ = nn.functional.linear(x1, w);
            }
        },
        20
    );
    double t2 = Time(
        () =>
        {
            foreach (var w in cold)
            {
                using var _ = SmallBatchLinear.Kernel(x1, w);
            }
        },
        20
    );
    double t3 = Time(
        () =>
        {
            foreach (var w in cold)
            {
                using var _ = w.sum();
            }
        },
        20
    );
    parts.Add(($"cold 75 MB, 1 row: torch linear ({mb / t1:F1} GB/s)", t1));
    parts.Add(($"cold 75 MB, 1 row: kernel ({mb / t2:F1} GB/s)", t2));
    parts.Add(($"cold 75 MB: torch sum of each matrix ({mb / t3:F1} GB/s)", t3));
}
foreach (int rows in new[] { 1, 2, 4, 8 })
{
    var xr = randn(rows, c.DModel);
    var ws = Enumerable.Range(0, c.NLayers).Select(i => ((SwiGLU)model.layers[i].mlp!).up_proj.weight!).ToArray();
    var wd = Enumerable.Range(0, c.NLayers).Select(i => ((SwiGLU)model.layers[i].mlp!).down_proj.weight!).ToArray();
    var xd = randn(rows, wd[0].shape[1]);
    parts.Add(
        (
            $"{rows} rows x {c.NLayers} down_proj: torch",
            Time(() =>
            {
                foreach (var w in wd)
                {
                    using var _ = nn.functional.linear(xd, w);
                }
            })
        )
    );
    parts.Add(
        (
            $"{rows} rows x {c.NLayers} down_proj: kernel",
            Time(() =>
            {
                foreach (var w in wd)
                {
                    using var _ = SmallBatchLinear.Kernel(xd, w);
                }
            })
        )
    );
    double torchMs = Time(() =>
    {
        foreach (var w in ws)
        {
            using var _ = nn.functional.linear(xr, w);
        }
    });
    double kernelMs = Time(() =>
    {
        foreach (var w in ws)
        {
            using var _ = SmallBatchLinear.Kernel(xr, w);
        }
    });
    double mb = ws.Sum(w => w.numel()) * 4 / 1e6;
    parts.Add(($"{rows} rows x {c.NLayers} up_proj ({mb:F1} MB): torch / kernel", torchMs));
    parts.Add(($"  kernel ({mb / kernelMs:F1} GB/s vs torch {mb / torchMs:F1} GB/s)", kernelMs));
}
Console.WriteLine($"{preset} {arch}, batch {batch}, kv {kv}, {c.NLayers} blocks, D {c.DModel}, {get_num_threads()} threads");
foreach (var (name, ms) in parts)
    Console.WriteLine($"{name, -45} {ms, 8:F3} ms");
return 0;
