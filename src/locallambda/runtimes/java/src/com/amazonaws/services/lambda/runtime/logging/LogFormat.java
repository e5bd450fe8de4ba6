package com.amazonaws.services.lambda.runtime.logging;

/** Log formats of the function's log. */
public enum LogFormat {
    JSON,
    TEXT;

    /**
     * Parses a format name, case-insensitively.
     *
     * @throws IllegalArgumentException if the name is not a format
     */
    public static LogFormat fromString(String logFormat) {
        try {
            return LogFormat.valueOf(logFormat.toUpperCase(java.util.Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Invalid log format: '" + logFormat
                    + "' expected one of [JSON, TEXT]");
        }
    }
}
