using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// Usage of a table's rows over a window of forward passes (memory layers' values, PEER's experts): coverage (share of the N physical rows
/// selected at least once),
/// usage entropy normalised by log N (1 = uniform) and its KL from uniform (log N − H), mean top-1 score, mean top-1 weight of
/// the softmax over each head's m scores (per core; 1/m = uniform, 1 = argmax), memory output std, and TDQKR's recall of the exact top-m. Kept outside the module tree (not a buffer, not saved).
/// </summary>
public sealed class ValueUsageStats : IDisposable
{
    readonly long _rows;
    Tensor? _counts;
    double _top1Sum,
        _top1WeightSum,
        _recallSum,
        _outSum,
        _outSq;
    long _tokens,
        _weightTokens,
        _recallTokens,
        _outCount;

    public ValueUsageStats(long rows)
    {
        _rows = rows;
    }

    /// <summary>One forward pass: selected rows, scores [N, H, m, h], output, and (softmax layers) the weights the layer applied,
    /// the softmax over each head's m per core [N, H, m, h].</summary>
    public void Record(Tensor rows, Tensor scores, Tensor output, Tensor? weights = null)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        _counts ??= zeros(_rows, dtype: ScalarType.Float32, device: rows.device).DetachFromDisposeScope();
        var flat = rows.flatten();
        _counts.index_add_(0, flat, ones(flat.shape[0], dtype: ScalarType.Float32, device: flat.device), 1.0);
        var total = scores.sum(-1); // [N, H, m] (Σ over cores)
        _top1Sum += total.select(2, 0).mean().to(ScalarType.Float64).item<double>() * total.shape[0];
        _tokens += total.shape[0];
        if (weights is not null)
        {
            _top1WeightSum += weights.amax(2).mean().to(ScalarType.Float64).item<double>() * weights.shape[0];
            _weightTokens += weights.shape[0];
        }
        var o = output.detach().to(ScalarType.Float64);
        _outSum += o.sum().item<double>();
        _outSq += o.square().sum().item<double>();
        _outCount += o.numel();
    }

    /// <summary>The recall of the exact top-m measured on <paramref name="tokens"/> tokens (TDQKR in evaluation).</summary>
    public void RecordRecall(double recall, long tokens)
    {
        _recallSum += recall * tokens;
        _recallTokens += tokens;
    }

    public Dictionary<string, double> Summary()
    {
        var d = new Dictionary<string, double>();
        if (_counts is null || _tokens == 0)
            return d;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        double hits = _counts.sum().item<float>();
        d["coverage"] = (_counts > 0).sum().item<long>() / (double)_rows;
        var p = _counts / hits;
        double entropy = -(p * (p + 1e-30).log()).sum().item<float>();
        d["usage_entropy"] = entropy / Math.Log(_rows);
        d["usage_kl_uniform"] = Math.Log(_rows) - entropy;
        d["top1_score"] = _top1Sum / _tokens;
        if (_weightTokens > 0)
            d["top1_weight"] = _top1WeightSum / _weightTokens;
        if (_recallTokens > 0)
            d["retrieval_recall"] = _recallSum / _recallTokens;
        double mean = _outSum / _outCount;
        d["output_std"] = Math.Sqrt(Math.Max(0, _outSq / _outCount - mean * mean));
        return d;
    }

    public void Reset()
    {
        _counts?.zero_();
        _top1Sum = _top1WeightSum = _recallSum = _outSum = _outSq = 0;
        _tokens = _weightTokens = _recallTokens = _outCount = 0;
    }

    public void Dispose()
    {
        _counts?.Dispose();
        _counts = null;
    }
}
