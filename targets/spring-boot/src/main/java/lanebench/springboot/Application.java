package lanebench.springboot;

import java.sql.SQLException;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * Entry point of the lanebench Spring Boot target: Spring MVC on the embedded Tomcat, with
 * the in-memory store or, with STORE=postgres, the "postgres" profile's JDBC store.
 */
@SpringBootApplication
public class Application {

    public static void main(String[] args) {
        DatabaseSettings database;
        try {
            database = DatabaseSettings.fromEnv(System.getenv());
        } catch (DatabaseSettings.SettingException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        SpringApplication application = new SpringApplication(Application.class);
        if (database != null) {
            // The database comes first, so the server only answers once it can serve every route.
            try {
                database.probe();
            } catch (SQLException e) {
                System.err.println("cannot connect to the database (DATABASE_URL): " + e.getMessage());
                System.exit(1);
                return;
            }
            application.setAdditionalProfiles("postgres");
            application.setDefaultProperties(database.springProperties(Runtime.getRuntime().availableProcessors()));
        }
        application.run(args);
    }
}
