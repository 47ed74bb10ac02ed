from django.urls import path

from gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.grid, name="grid"),
    path("bulk/", views.bulk, name="bulk"),
    path("saved/", views.saved_search_create, name="saved_search_create"),
    path("saved/<int:pk>/delete/", views.saved_search_delete, name="saved_search_delete"),
    path("boards/", views.boards, name="boards"),
    path("boards/new/", views.board_create, name="board_create"),
    path("boards/<int:pk>/delete/", views.board_delete, name="board_delete"),
    path("<int:pk>/tags/", views.image_tags, name="tags"),
    path("<int:pk>/boards/", views.image_boards, name="image_boards"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/image/", views.image_file, name="file"),
    path("<int:pk>/thumbnail/", views.image_thumbnail, name="thumbnail"),
    path("<int:pk>/download/", views.image_download, name="download"),
    path("<int:pk>/mask/", views.image_mask, name="mask"),
    path("<int:pk>/delete/", views.image_delete, name="delete"),
    path("<int:pk>/favourite/", views.favourite, name="favourite"),
]
