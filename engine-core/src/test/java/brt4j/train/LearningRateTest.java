package brt4j.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LearningRateTest {
    // Spec §5.15.
    @Test
    void paperScheduleValues() {
        assertEquals(0.0316228, LearningRate.rsqrt(1000, 1000, 1.0), 1e-7);
        assertEquals(0.0223607, LearningRate.rsqrt(2000, 1000, 1.0), 1e-7);
        assertEquals(0.01, LearningRate.rsqrt(10000, 1000, 1.0), 1e-7);
        assertEquals(0.0014142, LearningRate.rsqrt(500000, 1000, 1.0), 1e-7);
        assertEquals(0.0158114, LearningRate.rsqrt(500, 1000, 1.0), 1e-7);
        assertEquals(0.0, LearningRate.rsqrt(0, 1000, 1.0));
    }

    @Test
    void cosineWarmsUpThenDecaysToTheFloor() {
        assertEquals(0.005, LearningRate.cosine(50, 100, 1000, 0.01, 0.001), 1e-12);
        assertEquals(0.01, LearningRate.cosine(100, 100, 1000, 0.01, 0.001), 1e-12);
        assertEquals(0.0055, LearningRate.cosine(550, 100, 1000, 0.01, 0.001), 1e-12);
        assertEquals(0.001, LearningRate.cosine(5000, 100, 1000, 0.01, 0.001), 1e-12);
    }
}
