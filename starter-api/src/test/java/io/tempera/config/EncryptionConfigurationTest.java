package io.tempera.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.codec.EncryptionCodec;
import io.temporal.common.converter.CodecDataConverter;
import io.temporal.common.converter.DataConverter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * What {@code tempera.encryption.*} makes of the configuration the API and the workers share: the
 * codec and the data converter the Temporal starter picks up when on, nothing when off, and a start
 * that fails naming the key id (never the key) when a key is malformed.
 */
@ExtendWith(OutputCaptureExtension.class)
class EncryptionConfigurationTest {

  static final String K1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  static final String K2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

  final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withUserConfiguration(TemperaCoreConfiguration.class)
          .withPropertyValues(
              "tempera.templates-dir=../templates",
              "tempera.output-root=target/encryption-config-outputs",
              "tempera.node-catalogue.enabled=false");

  @Test
  void offByDefaultTheConverterDoesNotEncrypt() {
    runner.run(context -> {
      assertThat(context).hasNotFailed();
      assertThat(context).doesNotHaveBean(EncryptionCodec.class);
      // the SDK's converters, reading properties a record does not know (rolling upgrades)
      assertThat(context.getBean(DataConverter.class))
          .isSameAs(io.tempera.codec.TemperaDataConverter.standard())
          .isNotInstanceOf(CodecDataConverter.class);
    });
  }

  @Test
  void onTheMainDataConverterEncryptsWithTheCurrentKeyAndNoKeyIsLogged(CapturedOutput output) {
    runner
        .withPropertyValues(
            "tempera.encryption.enabled=true",
            "tempera.encryption.current-key-id=k2",
            "tempera.encryption.keys.k1=" + K1,
            "tempera.encryption.keys.k2=" + K2)
        .run(context -> {
          assertThat(context).hasNotFailed();
          assertThat(context).hasSingleBean(DataConverter.class);
          assertThat(context.getBean("mainDataConverter")).isInstanceOf(CodecDataConverter.class);
          EncryptionCodec codec = context.getBean(EncryptionCodec.class);
          assertThat(codec.currentKeyId()).isEqualTo("k2");
          assertThat(codec.keyIds()).containsExactly("k1", "k2");
          assertThat(context.getBean(TemperaProperties.class).toString())
              .contains("keys=[k1, k2]")
              .doesNotContain(K1)
              .doesNotContain(K2);
        });
    assertThat(output.getAll())
        .contains("Payload encryption on: key id 'k2' encrypts; keys [k1, k2] decrypt")
        .doesNotContain(K1)
        .doesNotContain(K2);
  }

  @Test
  void aMalformedKeyFailsTheStartNamingItsId(CapturedOutput output) {
    String short16 = "MDEyMzQ1Njc4OWFiY2RlZg==";
    runner
        .withPropertyValues(
            "tempera.encryption.enabled=true",
            "tempera.encryption.current-key-id=k1",
            "tempera.encryption.keys.k1=" + short16)
        .run(context -> {
          assertThat(context).hasFailed();
          assertThat(context.getStartupFailure())
              .rootCause()
              .hasMessageContaining("tempera.encryption is enabled but its keys are not usable")
              .hasMessageContaining("'k1' is 16 bytes; an AES-256 key is 32 bytes")
              .message()
              .doesNotContain(short16);
        });
    assertThat(output.getAll()).doesNotContain(short16);
    runner
        .withPropertyValues(
            "tempera.encryption.enabled=true",
            "tempera.encryption.current-key-id=k3",
            "tempera.encryption.keys.k1=" + K1)
        .run(context ->
            assertThat(context.getStartupFailure())
                .rootCause()
                .hasMessageContaining("'k3' names no configured key (configured: [k1])"));
  }
}
