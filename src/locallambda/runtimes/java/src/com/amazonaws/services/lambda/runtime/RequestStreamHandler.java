package com.amazonaws.services.lambda.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** A handler that reads the raw event and writes the raw result itself. */
public interface RequestStreamHandler {

    /** Handles one invocation: read the event from {@code input}, write the result to {@code output}. */
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
