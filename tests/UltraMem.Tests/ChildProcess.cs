using System.Diagnostics;

namespace UltraMem.Tests;

/// <summary>Runs a program in a child process for the tests that check the real tool (exit codes, error lines, kills).</summary>
static class ChildProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/> (and <paramref name="environment"/> added) to its end, at most
    /// 120 s; <paramref name="whileRunning"/> (if any) is polled with the process id and the stderr seen so far until it
    /// returns true or the process ends.
    /// </summary>
    public static (int Code, string Out, string Err) Run(
        string file,
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        Func<int, Func<string>, bool>? whileRunning = null
    )
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var err = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (err)
                    err.AppendLine(e.Data);
        };
        p.BeginErrorReadLine();
        if (whileRunning is not null)
            while (
                !p.HasExited
                && !whileRunning(
                    p.Id,
                    () =>
                    {
                        lock (err)
                            return err.ToString();
                    }
                )
            )
                Thread.Sleep(100);
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(" ", psi.ArgumentList)}");
        }
        p.WaitForExit(); // drains the error stream
        lock (err)
            return (p.ExitCode, stdout.Result, err.ToString());
    }

    /// <summary>The command-line tool next to the tests (UltraMem.Cli.dll), run with <c>dotnet</c>.</summary>
    public static string ToolDll => Path.Combine(AppContext.BaseDirectory, "UltraMem.Cli.dll");
}
