using System.CommandLine;
using UltraMem;
using UltraMem.Cli.Commands;
using UltraMem.Platform;

// Native allocator settings must be in place before the first torch call (docs/platform.md).
NativeEnvironment.Apply();

var root = new RootCommand("UltraMem.NET — build, train, evaluate, run and benchmark language models with ultra-sparse memory layers.")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
    GenerateCommand.Create(),
    InfoCommand.Create(),
    MatchCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
    CompareCommand.Create(),
    TasksCommand.Create(),
};

try
{
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0)
    {
        // one line, like every other error (not the whole help): the first problem, with .NET type names in words
        Console.Error.WriteLine($"ultramem: error: {Cli.ParseErrorText(parsed.Errors[0].Message)} (--help lists the options)");
        return 2;
    }
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (Exception e) when (Cli.ErrorLine(e) is { } line)
{
    Console.Error.WriteLine($"ultramem: error: {line}");
    return 1;
}
