using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Inference;

/// <summary>Autoregressive generation through the KV cache: one prefill of the prompt, then one token per step.</summary>
public static class Generator
{
    /// <summary>
    /// Continues <paramref name="prompt"/> by up to <paramref name="maxNewTokens"/> tokens, stopping early at
    /// <paramref name="stopToken"/> or when the context reaches max_seq_len. A prompt longer than the context
    /// keeps its last tokens. <paramref name="onToken"/> sees each token as it is produced (streaming).
    /// </summary>
    public static List<int> Generate(
        TransformerLM model,
        IReadOnlyList<int> prompt,
        int maxNewTokens,
        SamplingOptions options,
        int? stopToken = null,
        Action<int>? onToken = null
    )
    {
        if (prompt.Count == 0)
            throw new UltraMemException("the prompt is empty (it needs at least one token)");
        int ctx = model.Config.MaxSeqLen;
        var context = prompt.Skip(Math.Max(0, prompt.Count - (ctx - 1))).ToArray();
        var sampler = new Sampler(options);
        var output = new List<int>();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var cache = new DecodeCache(model, 1);
            using var promptTensor = tensor(context.Select(t => (long)t).ToArray(), int64, device: model.Device).unsqueeze(0);
            var logits = model.Forward(promptTensor, cache, lastPositionOnly: true);
            for (int i = 0; i < maxNewTokens; i++)
            {
                float[] last;
                using (logits)
                    last = logits[0, -1].to(float32).data<float>().ToArray();
                int next = sampler.Next(last);
                if (next == stopToken)
                    break;
                output.Add(next);
                onToken?.Invoke(next);
                if (cache.Position >= ctx)
                    break;
                using var step = tensor(new long[] { next }, int64, device: model.Device).unsqueeze(0);
                logits = model.Forward(step, cache, lastPositionOnly: true);
            }
        }
        finally
        {
            if (wasTraining)
                model.train();
        }
        return output;
    }
}
