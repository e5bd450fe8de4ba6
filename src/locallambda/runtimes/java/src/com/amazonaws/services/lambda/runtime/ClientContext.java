package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** The client application context passed by a mobile SDK caller. */
public interface ClientContext {

    /** Information about the client application. */
    Client getClient();

    /** Custom values set by the client application. */
    Map<String, String> getCustom();

    /** Environment information provided by the mobile SDK. */
    Map<String, String> getEnvironment();
}
