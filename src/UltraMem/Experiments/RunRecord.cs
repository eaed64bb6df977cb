using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace UltraMem.Experiments;

/// <summary>One finished run of a comparison: a line of <c>results.jsonl</c>.</summary>
public sealed record RunRecord
{
    public required string Arch { get; init; }
    public ulong Seed { get; init; }

    /// <summary><c>family</c> or <c>ladder</c>.</summary>
    public string Comparison { get; init; } = "";
    public string ModelName { get; init; } = "";
    public long Steps { get; init; }

    /// <summary>Training tokens seen (steps × batch × seq_len × grad_accum).</summary>
    public long Tokens { get; init; }

    /// <summary>Validation loss (nats/token) over the whole validation split after the last step.</summary>
    public double FinalValLoss { get; init; }

    /// <summary>Training throughput: tokens per step / mean step time, over the steps not preceded by an evaluation or a
    /// checkpoint.</summary>
    public double TrainTokensPerS { get; init; }

    /// <summary>The trainer's clock over the whole run (all sessions): steps, evaluations and checkpoints; not process start-up.</summary>
    public double TrainSeconds { get; init; }
    public long TotalParams { get; init; }
    public long ActivatedParams { get; init; }
    public long FlopsPerToken { get; init; }
    public int Threads { get; init; }

    /// <summary>The comparison settings' fingerprint (<see cref="CompareSettings.Fingerprint"/>).</summary>
    public string Fingerprint { get; init; } = "";

    /// <summary>First 16 hex digits of SHA-256 of the run's model config JSON (vocab_size included).</summary>
    public string ModelSha { get; init; } = "";

    /// <summary>The run folder, relative to the comparison folder.</summary>
    public string RunDir { get; init; } = "";
    public string FinishedUtc { get; init; } = "";

    /// <summary>UltraMem.NET's informational version (with the commit it was built from).</summary>
    public string Version { get; init; } = "";
    public int Cores { get; init; }

    /// <summary>Why the run has no result (training diverged); null for a finished run. A failed run is not retried.</summary>
    public string? Error { get; init; }

    /// <summary>The settings identity the fingerprint was computed from (self-describing lines).</summary>
    public JsonObject? Settings { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
