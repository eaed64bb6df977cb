using System.Diagnostics;

namespace UltraMem.Reporting;

/// <summary>
/// A terminal progress bar on stderr: bar, count, a caller-supplied status (loss, tokens/s) and ETA.
/// On a terminal it redraws one line; when stderr is redirected (CI, logs) it prints a line every
/// <see cref="LogInterval"/> instead, so logs stay readable.
/// </summary>
public sealed class ProgressBar : IDisposable
{
    readonly string _label;
    readonly long _total;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly bool _interactive = !Console.IsErrorRedirected;
    readonly long _startCount;
    TimeSpan? _lastDraw;
    long _current;
    string _status = "";
    bool _finished;

    public TimeSpan LogInterval { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan Elapsed => _clock.Elapsed;

    public ProgressBar(string label, long total, long start = 0)
    {
        _label = label;
        _total = Math.Max(1, total);
        _current = start;
        _startCount = start;
    }

    public void Report(long current, string status = "")
    {
        _current = current;
        _status = status;
        var now = _clock.Elapsed;
        var interval = _interactive ? TimeSpan.FromMilliseconds(100) : LogInterval;
        if (current >= _total || _lastDraw is null || now - _lastDraw.Value >= interval)
            Draw(now);
    }

    void Draw(TimeSpan now)
    {
        _lastDraw = now;
        double frac = Math.Clamp((double)_current / _total, 0, 1);
        const int width = 24;
        int filled = (int)Math.Round(frac * width);
        long done = _current - _startCount;
        string eta =
            done > 0 && _current < _total
                ? Format(TimeSpan.FromSeconds(Math.Min(1e9, now.TotalSeconds / done * (_total - _current))))
                : "--:--";
        string line =
            $"{_label} [{new string('#', filled)}{new string('.', width - filled)}] {frac, 4:P0} {_current}/{_total}"
            + (_status.Length > 0 ? $" | {_status}" : "")
            + $" | {Format(now)} elapsed, ETA {eta}";
        if (_interactive)
        {
            int max = Math.Max(40, SafeWindowWidth() - 1);
            if (line.Length > max)
                line = line[..max];
            Console.Error.Write("\r" + line.PadRight(max));
        }
        else
            Console.Error.WriteLine(line);
    }

    static int SafeWindowWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch
        {
            return 120;
        }
    }

    static string Format(TimeSpan t) =>
        t.TotalDays >= 100 ? ">99 days"
        : t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"
        : $"{t.Minutes:00}:{t.Seconds:00}";

    /// <summary>Prints a message above the bar without garbling it.</summary>
    public void WriteLine(string message)
    {
        if (_interactive)
            Console.Error.Write("\r" + new string(' ', Math.Max(40, SafeWindowWidth() - 1)) + "\r");
        Console.Error.WriteLine(message);
        if (_interactive)
            Draw(_clock.Elapsed);
    }

    public void Finish()
    {
        if (_finished)
            return;
        _finished = true;
        Draw(_clock.Elapsed);
        if (_interactive)
            Console.Error.WriteLine();
    }

    public void Dispose() => Finish();
}
