using UltraMem.Reporting;

namespace UltraMem.Training;

public sealed record TrainResult(
    string RunDir,
    string CheckpointDir,
    long Step,
    bool Interrupted,
    double? FinalValidationLoss,
    double UnigramEntropy,
    double TokensPerSecond,
    IReadOnlyList<MetricRecord> Metrics
);
