from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    """A view of a service behind accountd: who the access token says the caller is."""

    def get(self, request):
        return Response({"user_id": request.user.id, "token_type": request.auth["token_type"]})


urlpatterns = [path("whoami/", WhoAmI.as_view())]
