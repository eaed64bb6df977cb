using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using UltraMem.IO;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Experiments;

/// <summary>
/// What every run of a comparison folder shares (<c>ultramem compare</c>): the kind (a matched family or the UltraMem ablation
/// ladder), the base model the architectures are matched on, and the training settings (corpus, tokenizer, token budget, learning
/// rate, evaluation, threads). Only the seed changes from run to run, and it is the same list for every architecture.
/// <see cref="Fingerprint"/> hashes the part that decides the results; a folder holds runs of one fingerprint only.
/// </summary>
public sealed record CompareSettings
{
    public const string FamilyKind = "family",
        LadderKind = "ladder";

    /// <summary><c>family</c> (the matched family's members) or <c>ladder</c> (the rungs of the UltraMem ablation ladder, arXiv:2411.12364
    /// Table 2).</summary>
    public string Kind { get; init; } = FamilyKind;

    /// <summary>A name for the base model in reports: the preset's, or the config file's. Not part of the fingerprint.</summary>
    public string ModelName { get; init; } = "tiny";

    /// <summary>The backbone every architecture is matched on (<c>Families.Matched</c>).</summary>
    public required ModelConfig BaseModel { get; init; }

    /// <summary>Training settings of every run; <see cref="TrainConfig.Seed"/> is replaced by each run's seed.</summary>
    public required TrainConfig Train { get; init; }

    /// <summary>Train-config fields that do not change a run's results and are left out of the fingerprint.</summary>
    static readonly string[] NotIdentity = { "seed", "checkpoint_interval", "keep_checkpoints" };

    public CompareSettings Validate()
    {
        if (Kind is not (FamilyKind or LadderKind))
            throw new UltraMemException($"comparison kind must be '{FamilyKind}' or '{LadderKind}' (got '{Kind}')");
        BaseModel.Validate();
        Train.Validate(BaseModel.MaxSeqLen);
        if (Train.Threads is null)
            throw new UltraMemException("a comparison needs an explicit thread count (tokens/s depend on it)");
        return this;
    }

    public int SeqLen => Train.SeqLen ?? BaseModel.MaxSeqLen;
    public long TokensPerStep => (long)Train.BatchSize * SeqLen * Train.GradAccum;
    public long TokensPerRun => TokensPerStep * Train.MaxSteps;

    /// <summary>The fingerprinted part of the settings, as JSON: kind, base model, training settings without the seed and
    /// checkpointing.</summary>
    public JsonObject Identity() =>
        new()
        {
            ["comparison"] = Kind,
            ["base_model"] = JsonNode.Parse(BaseModel.ToJson()),
            ["train"] = StripTrain(Train),
        };

    /// <summary>A train config as JSON without the fields that do not change results (<see cref="NotIdentity"/>).</summary>
    public static JsonObject StripTrain(TrainConfig t)
    {
        var o = JsonNode.Parse(t.ToJson())!.AsObject();
        foreach (var k in NotIdentity)
            o.Remove(k);
        return o;
    }

    public string Fingerprint => FingerprintOf(Identity());

    public static string FingerprintOf(JsonNode identity) => ShortHash(identity.ToJsonString());

    /// <summary>First 16 hex digits of SHA-256 of <paramref name="json"/> (settings fingerprints, results lines' model_sha).</summary>
    public static string ShortHash(string json) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];

    /// <summary>The settings file of a comparison folder: the identity, its fingerprint and the model name.</summary>
    public string ToFileJson(string? command)
    {
        var o = new JsonObject
        {
            ["fingerprint"] = Fingerprint,
            ["model_name"] = ModelName,
            ["created_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["command"] = command,
            ["identity"] = Identity(),
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Reads a settings file written by <see cref="ToFileJson"/>.</summary>
    public static (CompareSettings Settings, string Fingerprint, JsonObject Identity) FromFileJson(string json, string source)
    {
        try
        {
            var o = JsonNode.Parse(json)?.AsObject() ?? throw new UltraMemException($"{source}: empty settings file");
            var identity = o["identity"]?.AsObject() ?? throw new UltraMemException($"{source}: no 'identity' object");
            string fingerprint = o["fingerprint"]?.GetValue<string>() ?? throw new UltraMemException($"{source}: no 'fingerprint'");
            var settings = new CompareSettings
            {
                Kind = identity["comparison"]?.GetValue<string>() ?? FamilyKind,
                ModelName = o["model_name"]?.GetValue<string>() ?? "model",
                BaseModel = ModelConfig.FromJson(identity["base_model"]?.ToJsonString() ?? "", $"{source}: base_model"),
                Train = TrainConfig.FromJson(identity["train"]?.ToJsonString() ?? "", $"{source}: train"),
            };
            return (settings, fingerprint, identity);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new UltraMemException($"{source}: malformed comparison settings ({e.Message})", e);
        }
    }

    /// <summary>Fields that differ between two identities, as "path: recorded vs now" lines (<see cref="JsonDiff"/>).</summary>
    public static IReadOnlyList<string> Differences(JsonNode? recorded, JsonNode? now) =>
        JsonDiff.Fields(recorded, now).Select(d => $"{d.Path}: {d.A} recorded, {d.B} now").ToList();
}
