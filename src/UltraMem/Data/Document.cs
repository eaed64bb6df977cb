namespace UltraMem.Data;

/// <summary>One document of a corpus: a stable identifier (used by the train/validation split) and its text.</summary>
public sealed record Document(string Id, string Text);
