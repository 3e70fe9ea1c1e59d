# tempera/api and tempera/worker: an application jar on a Java runtime. From the repository root, after
# ./tempera run or ./mvnw package -DskipTests:
#   docker build -f deploy/compose/app.Dockerfile --build-arg JAR=starter-api/target/tempera-starter-api-0.2.0-SNAPSHOT-app.jar -t tempera/api:0.2.0 .
#   docker build -f deploy/compose/app.Dockerfile --build-arg JAR=worker-app/target/tempera-worker-app-0.2.0-SNAPSHOT-app.jar -t tempera/worker:0.2.0 .
FROM eclipse-temurin:25-jre
ARG JAR
COPY ${JAR} /opt/tempera/app.jar
RUN useradd --system --uid 10001 tempera
USER tempera
ENTRYPOINT ["java", "--enable-native-access=ALL-UNNAMED", "-XX:MaxRAMPercentage=75", "-jar", "/opt/tempera/app.jar"]
