-- The console speaks Indonesian; each user may switch it to English
-- (issue 18). Labels, dates and error pages follow this setting.
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT 'id';
