namespace UltraMem.Data.Tasks;

/// <summary>
/// One example of a synthetic task (docs/tasks.md): the model reads <see cref="Prompt"/> and is scored only on the tokens
/// of <see cref="Answer"/>, which directly follows it (it starts with a space, so it tokenises as whole words).
/// </summary>
public sealed record TaskExample(string Task, string Prompt, string Answer)
{
    /// <summary>The training sequence: prompt and answer, then a newline.</summary>
    public string Text => Prompt + Answer + "\n";
}
