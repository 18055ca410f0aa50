package lanebench.springboot;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * Entry point of the lanebench Spring Boot target: Spring MVC on the embedded Tomcat, with
 * the in-memory store or, with STORE=postgres, the "postgres" profile's JDBC store. With
 * ORDERS_URL the "user-service" profile adds the two endpoints that call the order service.
 * PROTOCOL chooses HTTP/1.1 or HTTP/2, over TCP or TLS, on the same Tomcat connector.
 */
@SpringBootApplication
public class Application {

    /** The profile of service-to-service mode: its controller and client exist only under it. */
    static final String USER_SERVICE_PROFILE = "user-service";

    public static void main(String[] args) {
        DatabaseSettings database;
        DownstreamSettings downstream;
        ProtocolSettings protocol;
        try {
            database = DatabaseSettings.fromEnv(System.getenv());
            downstream = DownstreamSettings.fromEnv(System.getenv());
            protocol = ProtocolSettings.fromEnv(System.getenv());
        } catch (DatabaseSettings.SettingException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        SpringApplication application = new SpringApplication(Application.class);
        List<String> profiles = new ArrayList<>();
        Properties defaults = protocol.springProperties();
        if (database != null) {
            // The database comes first, so the server only answers once it can serve every route.
            try {
                database.probe();
            } catch (SQLException e) {
                System.err.println("cannot connect to the database (DATABASE_URL): " + e.getMessage());
                System.exit(1);
                return;
            }
            profiles.add("postgres");
            defaults.putAll(database.springProperties(Runtime.getRuntime().availableProcessors()));
        }
        if (downstream != null) {
            profiles.add(USER_SERVICE_PROFILE);
            application.addInitializers(context ->
                    context.getBeanFactory().registerSingleton("downstreamSettings", downstream));
        }
        application.setDefaultProperties(defaults);
        application.setAdditionalProfiles(profiles.toArray(String[]::new));
        application.run(args);
    }
}
