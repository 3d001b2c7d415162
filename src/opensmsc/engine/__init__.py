"""The SMSC's business logic: sessions of bound ESMEs, message acceptance and delivery."""
