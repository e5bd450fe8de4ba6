package com.amazonaws.services.lambda.runtime;

import java.io.IOException;

/** Access to the global function logger, outside of a handler's {@link Context}. */
public final class LambdaRuntime {

    private LambdaRuntime() {
    }

    private static volatile LambdaLogger logger = new LambdaLogger() {
        @Override
        public void log(String message) {
            System.out.print(message == null ? "null" : message);
        }

        @Override
        public void log(byte[] message) {
            try {
                System.out.write(message == null ? new byte[] {'n', 'u', 'l', 'l'} : message);
            } catch (IOException e) {
                e.printStackTrace();
            }
        }
    };

    /** Returns the global logger; it writes to standard output. */
    public static LambdaLogger getLogger() {
        return logger;
    }
}
