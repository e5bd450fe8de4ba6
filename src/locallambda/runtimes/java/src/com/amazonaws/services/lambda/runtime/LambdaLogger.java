package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/** A low-level logger writing to the function's log (standard output). */
public interface LambdaLogger {

    /** Logs a string, as is (no newline is added). */
    void log(String message);

    /** Logs raw bytes, as is. */
    void log(byte[] message);

    /** Logs a string at a level; the level is ignored by the plain text format. */
    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    /** Logs raw bytes at a level; the level is ignored by the plain text format. */
    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
