-- The AI gateway's spend, counted from the model's reported usage: tokens per day, user (the
-- nil id for platform features), feature and model; and each month's total, for the cap.
CREATE TABLE ai_usage (
    day               date   NOT NULL,
    user_id           uuid   NOT NULL,
    feature           text   NOT NULL,
    model             text   NOT NULL,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    calls             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, feature, model)
);

CREATE TABLE ai_month (
    month  date   PRIMARY KEY,
    tokens bigint NOT NULL DEFAULT 0
);

-- The spectrum's weekly insights (sealed with the owner's key) and Lens's daily affirmations,
-- as the projections keep them from `spectrum.insight_written` and `lens.affirmations_written`.
CREATE TABLE spectrum_insights (
    user_id    uuid        NOT NULL,
    week       date        NOT NULL,
    text       text        NOT NULL,
    counts     text        NOT NULL,
    source     text        NOT NULL,
    written_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, week)
);

CREATE TABLE lens_affirmations (
    day          date  PRIMARY KEY,
    affirmations jsonb NOT NULL,
    source       text  NOT NULL
);
