"""The AWS services around Lambda, served on the same port by embedded moto, and wired to our Lambda."""
