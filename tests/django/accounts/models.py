from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A custom user model with the extra columns the university contract's
    Django backend had: accountd's import puts them into the user's profile."""

    USER_TYPES = [("student", "Student"), ("staff", "Staff")]

    phone_number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    user_type = models.CharField(max_length=10, choices=USER_TYPES, default="student")
    date_of_birth = models.DateField(null=True, blank=True)
    gpa = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
