package com.amazonaws.services.lambda.runtime.logging;

/** Log levels of {@link com.amazonaws.services.lambda.runtime.LambdaLogger#log(String, LogLevel)}. */
public enum LogLevel {
    /** Used by the level-less {@code log} methods: never filtered. */
    UNDEFINED,
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL;

    /**
     * Parses a level name, case-insensitively.
     *
     * @throws IllegalArgumentException if the name is not a level
     */
    public static LogLevel fromString(String logLevel) {
        try {
            return LogLevel.valueOf(logLevel.toUpperCase(java.util.Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Invalid log level: '" + logLevel
                    + "' expected one of [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
        }
    }
}
