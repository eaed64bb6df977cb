using static TorchSharp.torch;

namespace UltraMem.Tests;

/// <summary>Small real-English corpora and temporary folders for tests.</summary>
static class TestData
{
    public const string Paragraph =
        "The committee met on Tuesday to discuss the new budget. Members agreed that the city should spend more on schools, "
        + "roads and parks, but they could not agree on how to pay for it. Some wanted higher taxes; others wanted cuts elsewhere. "
        + "After three hours the chairman said the vote would wait until next week, when the full report would be ready.";

    /// <summary>A folder of <paramref name="docs"/> text files, each a shuffled arrangement of the paragraph's sentences.</summary>
    public static string CorpusFolder(string root, int docs = 24)
    {
        string dir = Path.Combine(root, "corpus");
        Directory.CreateDirectory(dir);
        var sentences = Paragraph.Split(". ").Select(s => s.TrimEnd('.') + ".").ToArray();
        var rng = new Random(11);
        for (int i = 0; i < docs; i++)
        {
            var lines = Enumerable.Range(0, 12).Select(_ => sentences[rng.Next(sentences.Length)]);
            File.WriteAllText(Path.Combine(dir, $"doc{i:D3}.txt"), string.Join(" ", lines) + $"\nDocument number {i}.\n");
        }
        return dir;
    }

    /// <summary>The small model the layer tests plug their slots into: vocabulary 97, D = 32, 4 heads, 24 positions, no dropout.</summary>
    public static UltraMem.Model.ModelConfig TinyModel(int layers, params UltraMem.Model.SlotPlacement[] slots) =>
        new()
        {
            VocabSize = 97,
            DModel = 32,
            NLayers = layers,
            NHeads = 4,
            MaxSeqLen = 24,
            Dropout = 0.0,
            MemoryLayers = slots.ToList(),
        };

    /// <summary>max |a − b| over all elements.</summary>
    public static float MaxAbsDiff(Tensor a, Tensor b) => (float)(a - b).abs().max().to(ScalarType.Float64).item<double>();

    /// <summary>
    /// Decodes <paramref name="tokens"/> [B, T] with a KV cache in pieces — a 5-token prefill, an offset 3-token chunk, then one
    /// token at a time (<paramref name="afterStep"/> runs after each single step) — and returns the logits of the full forward
    /// pass and of the incremental one, [B, T, V] each. The model must be in eval mode, under no_grad.
    /// </summary>
    public static (Tensor Full, Tensor Incremental) DecodeInPieces(
        UltraMem.Model.TransformerLM model,
        Tensor tokens,
        Action? afterStep = null
    )
    {
        long t = tokens.shape[1];
        var full = model.forward(tokens);
        using var cache = new UltraMem.Model.DecodeCache(model, tokens.shape[0]);
        var pieces = new List<Tensor> { model.Forward(tokens[.., ..5], cache), model.Forward(tokens[.., 5..8], cache) };
        for (long i = 8; i < t; i++)
        {
            pieces.Add(model.Forward(tokens[.., (int)i..(int)(i + 1)], cache));
            afterStep?.Invoke();
        }
        return (full, cat(pieces, 1));
    }

    /// <summary>
    /// Central-difference check, in double precision, of d(Σ layer(x) ⊙ probe)/dθ for every parameter θ of
    /// <paramref name="layer"/> and for the input x: 4 random coordinates each plus the one with the largest gradient
    /// (a selected row, for tables). The layer must already be in float64 and eval mode. Returns the names checked.
    /// </summary>
    public static IReadOnlyCollection<string> CheckGradientsByCentralDifferences(
        TorchSharp.torch.nn.Module<Tensor, Tensor> layer,
        long[] inputShape,
        string name,
        int seed,
        double absTol,
        double relTol,
        bool requireNonZeroGradient = false
    )
    {
        var x = randn(inputShape, dtype: ScalarType.Float64).requires_grad_(true);
        var probe = randn(inputShape, dtype: ScalarType.Float64);
        double Loss()
        {
            using var _ = no_grad();
            return (layer.forward(x) * probe).sum().item<double>();
        }
        (layer.forward(x) * probe).sum().backward();
        var named = layer.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        named["input"] = x;
        var rng = new Random(seed);
        foreach (var (pname, p) in named)
        {
            var grad = p.grad;
            Xunit.Assert.True(grad is not null, $"{name}: {pname} got no gradient");
            var flatGrad = grad!.flatten();
            if (requireNonZeroGradient)
                Xunit.Assert.True(flatGrad.abs().max().item<double>() > 0, $"{name}: {pname} has an all-zero gradient");
            var coords = Enumerable.Range(0, 4).Select(_ => (long)rng.Next((int)p.numel())).Append(flatGrad.abs().argmax().item<long>());
            foreach (long i in coords)
            {
                double analytic = flatGrad[i].item<double>(),
                    numeric;
                using (no_grad())
                {
                    var flat = p.view(-1);
                    double old = flat[i].item<double>();
                    const double eps = 1e-6;
                    flat[i] = old + eps;
                    double up = Loss();
                    flat[i] = old - eps;
                    double down = Loss();
                    flat[i] = old;
                    numeric = (up - down) / (2 * eps);
                }
                Xunit.Assert.True(
                    Math.Abs(analytic - numeric) < absTol + relTol * Math.Abs(numeric),
                    $"{name}: d loss / d {pname}[{i}] analytic {analytic:E6} vs numeric {numeric:E6}"
                );
            }
        }
        return named.Keys;
    }

    public static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "ultramem-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        return d;
    }
}
