namespace UltraMem;

/// <summary>An error caused by user input (config, files, arguments) with a message meant for the user.</summary>
public class UltraMemException : Exception
{
    public UltraMemException(string message)
        : base(message) { }

    public UltraMemException(string message, Exception inner)
        : base(message, inner) { }
}
